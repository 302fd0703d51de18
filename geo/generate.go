package geo

// The test databases in testdata/ are written by testdata/gen; the
// built-in database has its own generator in builtin/.
//go:generate go run ./testdata/gen -out testdata
