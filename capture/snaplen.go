package capture

// MaxSnapLen is the one snap-length limit: libpcap's MAXIMUM_SNAPLEN
// (262144). It bounds the captured length of a file's records (larger values
// only come from damaged files, and trusting them would make the streaming
// reader allocate whatever a corrupt length field says), a live capture's
// --capture.snaplen, and the length a filter assumes when given none.
const MaxSnapLen = 256 << 10
