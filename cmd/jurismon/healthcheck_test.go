package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestHealthcheckWebConfig(t *testing.T) {
	dir := t.TempDir()
	write := func(name, data string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	hash := "$2y$10$0123456789012345678901uQ7nqv8mJmKkJbm1bPzvM3t8Ue3q2G6"
	users := write("users.yml", "basic_auth_users:\n  zed: "+hash+"\n  alpha: "+hash+"\n")
	tests := []struct {
		name    string
		c       healthcheckCommand
		wantURL string
		wantErr string
	}{
		{"no config", healthcheckCommand{url: defaultHealthURL}, defaultHealthURL, ""},
		{"users without a password", healthcheckCommand{url: defaultHealthURL, webConfig: users}, "", `password of "zed"`},
		{"first user in the file's order", healthcheckCommand{url: defaultHealthURL, webConfig: users, passwordFile: "pw"}, defaultHealthURL, ""},
		{"not YAML", healthcheckCommand{url: defaultHealthURL, webConfig: write("bad.yml", "tls_server_config: [")}, "", "bad.yml"},
		{"missing certificate", healthcheckCommand{url: defaultHealthURL, webConfig: write("tls.yml", "tls_server_config:\n  cert_file: nope.crt\n  key_file: nope.key\n")}, "", "nope.crt"},
		{"not a certificate", healthcheckCommand{url: defaultHealthURL, webConfig: write("tls2.yml", "tls_server_config:\n  cert_file: users.yml\n  key_file: users.yml\n")}, "", "not a PEM certificate"},
		{"half a client key pair", healthcheckCommand{url: defaultHealthURL, certFile: "c.crt"}, "", "go together"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, url, err := tt.c.client()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one mentioning %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if url != tt.wantURL {
				t.Errorf("url %q, want %q", url, tt.wantURL)
			}
			if tt.c.webConfig == users && tt.c.username != "zed" {
				t.Errorf("user %q, want the file's first, zed", tt.c.username)
			}
		})
	}
}
