// Package policy decides which remote addresses jurismon flags: a YAML file
// names jurisdictions (countries, registered countries, autonomous systems
// and AS organisations), exceptions that are never flagged, and the
// organisation's own networks, which are never remote. README.md in this
// directory describes the file format.
//
// A Policy is immutable once parsed and safe for concurrent use; reloading
// means parsing a new one and swapping the pointer.
package policy
