package biometrics

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// TemplateVersion is the version of the binary template encoding.
const TemplateVersion = 1

// templateMagic starts every encoded template.
const templateMagic = "EFT"

var (
	// ErrTemplateFormat means the bytes are not an encoded template.
	ErrTemplateFormat = errors.New("biometrics: not a face template")
	// ErrTemplateVersion means the template uses an encoding version we do not read.
	ErrTemplateVersion = errors.New("biometrics: unsupported template version")
	// ErrTemplateModel means the template was made by another descriptor model and
	// cannot be compared with ours.
	ErrTemplateModel = errors.New("biometrics: template from another model")
)

// Template is a face template: dlib's ResNet descriptor and what made it.
type Template struct {
	Version    int        `json:"version"`
	ModelID    string     `json:"model"`
	Jitter     int        `json:"jitter"`
	Descriptor Descriptor `json:"descriptor"`
}

// NewTemplate wraps a descriptor made by our model with the given jitter setting.
func NewTemplate(d Descriptor, jitter int) Template {
	return Template{Version: TemplateVersion, ModelID: ModelID, Jitter: jitter, Descriptor: d}
}

// MarshalBinary encodes the template:
//
//	"EFT" | version u8 | jitter u8 | len(model) u8 | model | 128 × float32 little-endian
func (t Template) MarshalBinary() ([]byte, error) {
	if len(t.ModelID) == 0 || len(t.ModelID) > 255 || t.Jitter < 0 || t.Jitter > 255 {
		return nil, fmt.Errorf("biometrics: encoding template: model ID %q or jitter %d out of range", t.ModelID, t.Jitter)
	}
	var b bytes.Buffer
	b.WriteString(templateMagic)
	b.WriteByte(TemplateVersion)
	b.WriteByte(byte(t.Jitter))
	b.WriteByte(byte(len(t.ModelID)))
	b.WriteString(t.ModelID)
	binary.Write(&b, binary.LittleEndian, t.Descriptor[:])
	return b.Bytes(), nil
}

// UnmarshalBinary decodes a template written by MarshalBinary. Errors wrap
// ErrTemplateFormat or ErrTemplateVersion; non-finite values are refused.
func (t *Template) UnmarshalBinary(b []byte) error {
	if len(b) < 6 || string(b[:3]) != templateMagic {
		return fmt.Errorf("%w: bad header", ErrTemplateFormat)
	}
	if b[3] != TemplateVersion {
		return fmt.Errorf("%w: version %d (this build reads %d)", ErrTemplateVersion, b[3], TemplateVersion)
	}
	n := int(b[5])
	if n == 0 || len(b) != 6+n+128*4 {
		return fmt.Errorf("%w: length %d", ErrTemplateFormat, len(b))
	}
	out := Template{Version: int(b[3]), Jitter: int(b[4]), ModelID: string(b[6 : 6+n])}
	for i := range out.Descriptor {
		f := math.Float32frombits(binary.LittleEndian.Uint32(b[6+n+4*i:]))
		if math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) {
			return fmt.Errorf("%w: non-finite value", ErrTemplateFormat)
		}
		out.Descriptor[i] = f
	}
	*t = out
	return nil
}

// DefaultThreshold is the descriptor distance at or below which two faces are taken to
// be the same person, for templates with jitter 0 (the default). Calibrated on the test
// photos (docs/quality.md, TestCalibration): FMR 2/199 and FPIR 3/21 there, at the cost
// of refusing most genuine pairs (FNMR 10/11). dlib's ResNet separates these faces
// poorly (EER ≈ 44%), so a match is a reason for a person to look, never a decision.
const DefaultThreshold = 0.40

// Similarity maps a distance to a 0–100 score: 50 at threshold, falling smoothly
// (logistic, 0.05 distance per e-fold) on either side.
func Similarity(distance, threshold float64) float64 {
	return round(100/(1+math.Exp((distance-threshold)/0.05)), 2)
}

// Comparison is the result of a 1:1 comparison.
type Comparison struct {
	Distance  float64 `json:"distance"`
	Score     float64 `json:"score"`
	Threshold float64 `json:"threshold"`
	Match     bool    `json:"match"`
}

// Verify compares two templates 1:1 at threshold (≤ 0: DefaultThreshold). It refuses
// templates from different models.
func Verify(a, b Template, threshold float64) (Comparison, error) {
	if threshold <= 0 {
		threshold = DefaultThreshold
	}
	if a.ModelID != b.ModelID {
		return Comparison{}, fmt.Errorf("%w: %q vs %q", ErrTemplateModel, a.ModelID, b.ModelID)
	}
	d := a.Descriptor.Distance(b.Descriptor)
	return Comparison{Distance: round(d, 4), Score: Similarity(d, threshold), Threshold: threshold, Match: d <= threshold}, nil
}

func sqrt32(x float32) float64 { return math.Sqrt(float64(x)) }
