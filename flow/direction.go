package flow

// Direction is the direction of a packet relative to the local networks.
type Direction uint8

const (
	// Egress is local → remote.
	Egress Direction = iota
	// Ingress is remote → local.
	Ingress
	// Transit is remote → remote: both endpoints are accounted.
	Transit
	// Internal is local → local: counted, never geo-resolved.
	Internal
	// NumDirections is the number of directions.
	NumDirections
)

var directionNames = [NumDirections]string{"egress", "ingress", "transit", "internal"}

func (d Direction) String() string {
	if d < NumDirections {
		return directionNames[d]
	}
	return "invalid"
}
