// Command jurismon shows where a network's traffic goes, in whose
// jurisdiction, and flags traffic that goes where it should not.
package main
