// Package report turns accounted traffic into the analyze command's
// per-jurisdiction report, as a table for people or as JSON or CSV for
// programs. The JSON and CSV forms are a stable interface: fields are only
// ever added.
package report
