package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// testCA issues certificates for the healthcheck test.
type testCA struct {
	t    *testing.T
	dir  string
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

func newTestCA(t *testing.T, dir string) *testCA {
	ca := &testCA{t: t, dir: dir}
	ca.cert, ca.key = ca.issue("ca", &x509.Certificate{
		Subject: pkix.Name{CommonName: "jurismon test CA"}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign,
	}, nil, nil)
	return ca
}

// issue writes NAME.crt and NAME.key, signed by parent (self-signed when nil).
func (ca *testCA) issue(name string, tmpl *x509.Certificate, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (*x509.Certificate, *ecdsa.PrivateKey) {
	t := ca.t
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl.SerialNumber = big.NewInt(time.Now().UnixNano())
	tmpl.NotBefore, tmpl.NotAfter = time.Now().Add(-time.Hour), time.Now().Add(time.Hour)
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(ca.dir, name+".crt"), string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
	writeFile(t, filepath.Join(ca.dir, name+".key"), string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})))
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key
}

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}

// dockerHealthcheck returns the image's HEALTHCHECK command, with the test
// binary in place of /usr/bin/jurismon.
func dockerHealthcheck(t *testing.T) []string {
	t.Helper()
	data, err := os.ReadFile("../../deploy/Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^HEALTHCHECK .*\\\n\s*CMD (\[.*\])`).FindSubmatch(data)
	if m == nil {
		t.Fatal("no HEALTHCHECK ... CMD [...] in deploy/Dockerfile")
	}
	var args []string
	if err := json.Unmarshal(m[1], &args); err != nil || len(args) < 2 || args[0] != "/usr/bin/jurismon" {
		t.Fatalf("HEALTHCHECK CMD %s", m[1])
	}
	return append([]string{binary}, args[1:]...)
}

// The healthcheck against an agent with TLS and basic auth, as the image's
// HEALTHCHECK runs it (the web configuration and the password file named
// by environment variables, as are the client certificate the agent asks
// for) and with explicit flags (a CA, a client certificate, a user).
func TestHealthcheckSecuredAgent(t *testing.T) {
	l := newLab(t)
	dir := agentDir(t)
	ca := newTestCA(t, dir)
	// The server certificate names neither 127.0.0.1 nor the management
	// address: the healthcheck trusts it because it is the agent's own.
	ca.issue("server", &x509.Certificate{Subject: pkix.Name{CommonName: "jurismon.example"}, DNSNames: []string{"jurismon.example"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}, ca.cert, ca.key)
	ca.issue("client", &x509.Certificate{Subject: pkix.Name{CommonName: "healthcheck"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}, ca.cert, ca.key)
	ca.issue("rogue", &x509.Certificate{Subject: pkix.Name{CommonName: "rogue"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}, nil, nil)
	hash := func(pw string) string {
		h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		return string(h)
	}
	webConfig := filepath.Join(dir, "web.yml")
	writeFile(t, webConfig, "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n"+
		"  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.crt\n"+
		"basic_auth_users:\n  probe: "+hash("s3cret")+"\n  admin: "+hash("other")+"\n")
	pw, wrong := filepath.Join(dir, "password"), filepath.Join(dir, "wrong")
	writeFile(t, pw, "s3cret\n")
	writeFile(t, wrong, "guess\n")

	// exporter-toolkit re-reads the web config and its certificates for
	// every connection: they must stay readable once the agent has become
	// nobody (README, Required capabilities).
	giveToAgentUser(t, dir)
	// The agent also listens on 127.0.0.1:9746 in its namespace, the
	// address of the image's HEALTHCHECK.
	startLabAgentNoWait(t, l, "--web.config.file", webConfig, "--web.listen-address", "127.0.0.1:9746")

	// check runs the healthcheck inside the agent's namespace, as the
	// container's HEALTHCHECK does.
	check := func(env []string, args ...string) (string, int) {
		cmd := exec.Command("ip", append([]string{"netns", "exec", l.a}, args...)...)
		cmd.Env = append(os.Environ(), env...)
		out, err := cmd.CombinedOutput()
		if ee, ok := err.(*exec.ExitError); ok {
			return string(out), ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return string(out), 0
	}
	hc := dockerHealthcheck(t)
	client := []string{"JURISMON_HEALTHCHECK_CERT_FILE=" + filepath.Join(dir, "client.crt"), "JURISMON_HEALTHCHECK_KEY_FILE=" + filepath.Join(dir, "client.key")}
	env := append([]string{"JURISMON_WEB_CONFIG_FILE=" + webConfig, "JURISMON_HEALTHCHECK_PASSWORD_FILE=" + pw}, client...)
	deadline := time.Now().Add(15 * time.Second)
	for {
		out, code := check(env, hc...)
		if code == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the image's HEALTHCHECK %q with TLS and basic auth: exit %d: %s", hc, code, out)
		}
		time.Sleep(200 * time.Millisecond)
	}

	mgmtURL := "https://" + net.JoinHostPort(mgmtAgent, agentPort) + "/-/healthy"
	tests := []struct {
		name string
		env  []string
		args []string
		code int
		want string // in the output
	}{
		{"web config without the password", client, []string{"--web.config.file", webConfig}, exitError, "--healthcheck.password-file"},
		{"wrong password", client, []string{"--web.config.file", webConfig, "--healthcheck.password-file", wrong}, exitError, "401"},
		{"another user's name", client, []string{"--web.config.file", webConfig, "--healthcheck.username", "admin", "--healthcheck.password-file", pw}, exitError, "401"},
		{"no client certificate", nil, []string{"--web.config.file", webConfig, "--healthcheck.password-file", pw}, exitError, "certificate"},
		{"plain HTTP to a TLS agent", client, []string{"--url", "http://127.0.0.1:9746/-/healthy", "--healthcheck.username", "probe", "--healthcheck.password-file", pw}, exitError, "400"},
		{"CA, client certificate and user", nil, []string{"--url", mgmtURL, "--tls.ca-file", filepath.Join(dir, "ca.crt"), "--tls.server-name", "jurismon.example",
			"--tls.cert-file", filepath.Join(dir, "client.crt"), "--tls.key-file", filepath.Join(dir, "client.key"),
			"--healthcheck.username", "probe", "--healthcheck.password-file", pw}, 0, ""},
		{"client certificate from another CA", nil, []string{"--url", mgmtURL, "--tls.ca-file", filepath.Join(dir, "ca.crt"), "--tls.server-name", "jurismon.example",
			"--tls.cert-file", filepath.Join(dir, "rogue.crt"), "--tls.key-file", filepath.Join(dir, "rogue.key"),
			"--healthcheck.username", "probe", "--healthcheck.password-file", pw}, exitError, "certificate"},
		{"CA but the wrong name", nil, []string{"--url", mgmtURL, "--tls.ca-file", filepath.Join(dir, "ca.crt"),
			"--healthcheck.username", "probe", "--healthcheck.password-file", pw}, exitError, "certificate"},
		{"insecure", client, []string{"--url", mgmtURL, "--tls.insecure-skip-verify", "--healthcheck.username", "probe", "--healthcheck.password-file", pw}, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, code := check(tt.env, append([]string{binary, "healthcheck"}, tt.args...)...)
			if code != tt.code || !strings.Contains(out, tt.want) {
				t.Errorf("exit %d, want %d; output %q, want it to mention %q", code, tt.code, out, tt.want)
			}
		})
	}
}
