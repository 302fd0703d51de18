// Package pcapfile reads capture files, pcap and pcapng, plain or gzip,
// from a path or a stream, as capture.Source values: small files are
// memory-mapped, large ones, compressed ones and pipes are read through a
// bounded buffer, and a damaged file is an error (ErrCorrupt), never a
// panic or an unbounded allocation (capture.MaxSnapLen). Frames alias the
// reader's buffer until the next call, as capture.Source requires.
package pcapfile
