package rollout

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
)

// Blue-green bookkeeping on the green Deployment.
const (
	// LabelColor marks green pods (and the green Deployment's selector), so blue and
	// green pods never belong to each other's ReplicaSets while a Service selecting the
	// shared pod labels routes to both.
	LabelColor = "rotor.dev/color"
	// AnnotationBlueReplicas remembers the blue Deployment's size before the first step,
	// so a rerun after a crash restores the right size.
	AnnotationBlueReplicas = "rotor.dev/blue-replicas"
	// AnnotationGreenOf names the blue Deployment a green copy belongs to.
	AnnotationGreenOf = "rotor.dev/green-of"
)

// ValidateSteps checks blue-green steps: increasing percentages from 1 to 100 that end
// at 100.
func ValidateSteps(steps []int) error {
	if len(steps) == 0 {
		return errors.New("no steps (the list is empty): give increasing percentages ending at 100, e.g. 10,50,100")
	}
	prev := 0
	for _, s := range steps {
		if s <= prev || s > 100 {
			return fmt.Errorf("%v: each step must be greater than the one before and at most 100, e.g. 10,50,100", steps)
		}
		prev = s
	}
	if prev != 100 {
		return fmt.Errorf("%v must end at 100: the last step moves the original Deployment itself", steps)
	}
	return nil
}

// GreenName is the green copy of a Deployment.
func GreenName(blue string) string {
	const suffix = "-rotor-green"
	if len(blue)+len(suffix) <= 63 {
		return blue + suffix
	}
	sum := sha256.Sum256([]byte(blue))
	return blue[:63-len(suffix)-9] + "-" + hex.EncodeToString(sum[:])[:8] + suffix
}

// GreenShare is how many of total replicas green runs at weight percent: rounded up,
// so every step before 100 % runs at least one green pod.
func GreenShare(total int32, weight int) int32 {
	g := (int64(total)*int64(weight) + 99) / 100
	if g < 1 && weight > 0 {
		g = 1
	}
	if g > int64(total) {
		g = int64(total)
	}
	return int32(g)
}
