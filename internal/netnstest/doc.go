// Package netnstest builds network namespaces for tests that need real
// interfaces, sockets and routing (AF_PACKET capture, the agent end to end,
// route probing), with the ip command from iproute2. It needs root; Require
// skips the test elsewhere.
package netnstest
