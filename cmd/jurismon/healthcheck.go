package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/exporter-toolkit/web"
	"gopkg.in/yaml.v3"
)

const defaultHealthURL = "http://127.0.0.1:9746/-/healthy"

// healthcheck is for container HEALTHCHECKs, where no curl is available.
// It can check an agent secured by --web.config.file: it reads the same
// file for what a client can use (the server's certificate, to trust it;
// the first basic-auth user's name), and takes what the file cannot give
// from flags (the password: the file holds only its bcrypt hash; a client
// certificate). Each flag has an environment variable, so that the image's
// HEALTHCHECK line stays the same whatever the security settings.
type healthcheckCommand struct {
	cmd          *kingpin.CmdClause
	url          string
	timeout      time.Duration
	webConfig    string
	username     string
	passwordFile string
	caFile       string
	certFile     string
	keyFile      string
	serverName   string
	insecure     bool
}

func newHealthcheckCommand(app *kingpin.Application) *healthcheckCommand {
	c := &healthcheckCommand{}
	c.cmd = app.Command("healthcheck", "Exit 0 when the agent at --url answers 200 (for container health checks).")
	c.cmd.Flag("url", "Health endpoint; https:// by default when --web.config.file enables TLS.").Default(defaultHealthURL).Envar("JURISMON_HEALTHCHECK_URL").StringVar(&c.url)
	c.cmd.Flag("timeout", "Give up after this long.").Default("5s").DurationVar(&c.timeout)
	c.cmd.Flag("web.config.file", "The agent's web configuration: its TLS certificate is trusted and its first basic-auth user is used.").Envar("JURISMON_WEB_CONFIG_FILE").StringVar(&c.webConfig)
	c.cmd.Flag("healthcheck.username", "Basic-auth user (default: the first user of --web.config.file).").Envar("JURISMON_HEALTHCHECK_USERNAME").StringVar(&c.username)
	c.cmd.Flag("healthcheck.password-file", "File holding the basic-auth password (the web configuration has only its hash).").Envar("JURISMON_HEALTHCHECK_PASSWORD_FILE").StringVar(&c.passwordFile)
	c.cmd.Flag("tls.ca-file", "CA certificates that sign the agent's certificate.").Envar("JURISMON_HEALTHCHECK_CA_FILE").StringVar(&c.caFile)
	c.cmd.Flag("tls.cert-file", "Client certificate, for an agent that asks for one.").Envar("JURISMON_HEALTHCHECK_CERT_FILE").StringVar(&c.certFile)
	c.cmd.Flag("tls.key-file", "Key of --tls.cert-file.").Envar("JURISMON_HEALTHCHECK_KEY_FILE").StringVar(&c.keyFile)
	c.cmd.Flag("tls.server-name", "Name the agent's certificate is checked against (default: the URL's host).").StringVar(&c.serverName)
	c.cmd.Flag("tls.insecure-skip-verify", "Do not check the agent's certificate.").BoolVar(&c.insecure)
	return c
}

func (c *healthcheckCommand) run() error {
	client, url, err := c.client()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	if c.username != "" || c.passwordFile != "" {
		pw, err := readPassword(c.passwordFile)
		if err != nil {
			return err
		}
		req.SetBasicAuth(c.username, pw)
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusUnauthorized && c.passwordFile == "" {
		return fmt.Errorf("%s: %s: the agent asks for basic auth: give --healthcheck.password-file (and --web.config.file or --healthcheck.username)", url, resp.Status)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", url, resp.Status)
	}
	return nil
}

// client builds the HTTP client and the URL from the flags and the web
// configuration.
func (c *healthcheckCommand) client() (*http.Client, string, error) {
	url := c.url
	tc := &tls.Config{ServerName: c.serverName, InsecureSkipVerify: c.insecure}
	if c.webConfig != "" {
		wc, first, err := readWebConfig(c.webConfig)
		if err != nil {
			return nil, "", fmt.Errorf("--web.config.file: %w", err)
		}
		if c.username == "" {
			c.username = first
		}
		if c.username != "" && c.passwordFile == "" {
			return nil, "", fmt.Errorf("%s requires basic auth, and holds only password hashes: give the password of %q with --healthcheck.password-file", c.webConfig, c.username)
		}
		cert, err := serverCert(&wc.TLSConfig)
		if err != nil {
			return nil, "", fmt.Errorf("--web.config.file: %w", err)
		}
		if cert != nil {
			if url == defaultHealthURL {
				url = "https://" + strings.TrimPrefix(url, "http://")
			}
			if c.caFile == "" && !c.insecure {
				// Trust exactly the agent's own certificate, whoever
				// signed it: this checks the local agent, whose
				// certificate need not name 127.0.0.1.
				tc.InsecureSkipVerify = true
				tc.VerifyConnection = func(cs tls.ConnectionState) error {
					if len(cs.PeerCertificates) == 0 || !bytes.Equal(cs.PeerCertificates[0].Raw, cert) {
						return errors.New("the agent's certificate is not the one in its web configuration")
					}
					return nil
				}
			}
		}
	}
	if c.caFile != "" {
		pem, err := os.ReadFile(c.caFile)
		if err != nil {
			return nil, "", err
		}
		tc.RootCAs = x509.NewCertPool()
		if !tc.RootCAs.AppendCertsFromPEM(pem) {
			return nil, "", fmt.Errorf("--tls.ca-file %s: no PEM certificate", c.caFile)
		}
	}
	if (c.certFile == "") != (c.keyFile == "") {
		return nil, "", errors.New("--tls.cert-file and --tls.key-file go together")
	}
	if c.certFile != "" {
		kp, err := tls.LoadX509KeyPair(c.certFile, c.keyFile)
		if err != nil {
			return nil, "", fmt.Errorf("client certificate: %w", err)
		}
		tc.Certificates = []tls.Certificate{kp}
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = tc
	tr.Proxy = nil // the agent is local: never through a proxy
	return &http.Client{Transport: tr}, url, nil
}

// readWebConfig reads an exporter-toolkit web configuration and the first
// basic-auth user name in the file's order.
func readWebConfig(path string) (*web.Config, string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, "", err
	}
	var wc web.Config
	if err := yaml.Unmarshal(data, &wc); err != nil {
		return nil, "", fmt.Errorf("%s: %w", path, err)
	}
	wc.TLSConfig.SetDirectory(filepath.Dir(path))
	var doc struct {
		Users yaml.Node `yaml:"basic_auth_users"`
	}
	_ = yaml.Unmarshal(data, &doc) // it parsed above
	first := ""
	if doc.Users.Kind == yaml.MappingNode && len(doc.Users.Content) >= 2 {
		first = doc.Users.Content[0].Value
	}
	return &wc, first, nil
}

// serverCert returns the DER of the leaf certificate the agent serves, or
// nil without TLS.
func serverCert(t *web.TLSConfig) ([]byte, error) {
	var data []byte
	switch {
	case t.TLSCert != "":
		data = []byte(t.TLSCert)
	case t.TLSCertPath != "":
		var err error
		if data, err = os.ReadFile(t.TLSCertPath); err != nil {
			return nil, err
		}
	default:
		return nil, nil
	}
	b, _ := pem.Decode(data)
	if b == nil || b.Type != "CERTIFICATE" {
		return nil, errors.New("the server certificate is not a PEM certificate")
	}
	return b.Bytes, nil
}

func readPassword(path string) (string, error) {
	if path == "" {
		return "", nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("--healthcheck.password-file: %w", err)
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}
