//go:build !fftw

package fftw

// Available reports whether this build links FFTW: without the fftw build
// tag it does not, and nothing else here may be called.
const Available = false

// ImportWisdom does nothing without the fftw build tag.
func ImportWisdom(path string) bool { return false }

// ExportWisdom does nothing without the fftw build tag.
func ExportWisdom(path string) bool { return false }

// Plan is not available without the fftw build tag.
type Plan struct{}

// NewPlanC128 is not available without the fftw build tag.
func NewPlanC128(n int, inverse bool, threads int, rigor Rigor) *Plan {
	panic("fftw: built without the fftw tag")
}

// NewPlanC64 is not available without the fftw build tag.
func NewPlanC64(n int, inverse bool, rigor Rigor) *Plan { panic("fftw: built without the fftw tag") }

// In128 is not available without the fftw build tag.
func (p *Plan) In128() []complex128 { panic("fftw: built without the fftw tag") }

// Out128 is not available without the fftw build tag.
func (p *Plan) Out128() []complex128 { panic("fftw: built without the fftw tag") }

// In64 is not available without the fftw build tag.
func (p *Plan) In64() []complex64 { panic("fftw: built without the fftw tag") }

// Out64 is not available without the fftw build tag.
func (p *Plan) Out64() []complex64 { panic("fftw: built without the fftw tag") }

// Execute is not available without the fftw build tag.
func (p *Plan) Execute() { panic("fftw: built without the fftw tag") }

// Destroy is not available without the fftw build tag.
func (p *Plan) Destroy() { panic("fftw: built without the fftw tag") }
