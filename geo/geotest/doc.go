// Package geotest gives other packages' tests a geo.Resolver over the small
// test databases in geo/testdata, which map the documentation ranges to
// countries (see geo/testdata/README.md for the table).
package geotest
