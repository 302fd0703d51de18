package main

import (
	"fmt"
	"slices"
	"strings"

	"github.com/alecthomas/kingpin/v2"
)

// enumValue is a kingpin flag value restricted to a set of words whose
// error names the flag: kingpin's own EnumVar says only "enum value must be
// one of ...", which leaves a user with several enum flags guessing.
type enumValue struct {
	flag    string
	value   *string
	options []string
}

func (e *enumValue) Set(s string) error {
	if !slices.Contains(e.options, s) {
		return fmt.Errorf("--%s: must be one of %s, got %q", e.flag, strings.Join(e.options, ", "), s)
	}
	*e.value = s
	return nil
}

func (e *enumValue) String() string { return *e.value }

// enumFlag registers an enum flag with its default on cmd.
func enumFlag(cmd *kingpin.CmdClause, name, help, def string, target *string, options ...string) {
	cmd.Flag(name, help).Default(def).SetValue(&enumValue{flag: name, value: target, options: options})
}
