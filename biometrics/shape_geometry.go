package biometrics

// Face geometry for the portrait crop and guidance (ISO/IEC 39794-5 full frontal), from
// the 68 landmarks. Kept apart from landmarks.go, which holds the measures' landmarks.

// iBUG 300-W indices of the face centre line.
const (
	shNoseBridge = 27 // top of the nose bridge, between the eyes
)

// EyeMidpoint is the midpoint of the six-point eye centres (EyeCentres): the point the
// portrait's eye line runs through.
func (s *Shape) EyeMidpoint() Point { return mean(s.EyeCentres()) }

// HeadLength is the crown–chin distance ISO/IEC 39794-5 sizes the portrait by. Crown
// mirrors the chin through the eye midpoint, so it is twice the eye-midpoint-to-chin
// distance.
func (s *Shape) HeadLength() float64 { return dist(s.Crown(), s.Chin()) }

// FaceCentre is a point of the face's vertical centre line: midway between the bridge
// of the nose and the middle of the mouth (the mouth corners' midpoint), the two points
// ISO/IEC 19794-5 and 39794-5 put on the portrait's vertical centre line.
func (s *Shape) FaceCentre() Point {
	return mean(s[shNoseBridge], mean(s[shMouthLeft], s[shMouthRight]))
}
