// Package deploy holds no code of the agent: it exists so that the tests in
// deploy_test.go, which check the Prometheus rules, the Grafana dashboard, the
// container image, the compose stack, the Kubernetes manifests and the systemd
// unit kept in this directory, have a package to live in. It is a separate Go
// module so that the parsers those tests need (Prometheus's PromQL parser, the
// Kubernetes and Prometheus Operator API types) never reach the agent's own
// dependency graph.
package deploy
