package board

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"strconv"
	"strings"
	"time"

	"nightlight/internal/smallfile"
)

// Levels of the simulated day/night curve.
const (
	simDay   = 850
	simNight = 75
)

// simLevel is the simulated light level: from the light file when there is
// one, else from the day/night curve.
func (b *Board) simLevel() (int, error) {
	if b.cfg.SimLight != "" {
		return readLightFile(b.cfg.SimLight)
	}
	return curve(b.now(), b.cfg.SimPeriod), nil
}

// readLightFile reads a level 0..1000 written as a whole number in a file.
func readLightFile(path string) (int, error) {
	data, err := smallfile.Read(path, smallfile.MaxLight, "sim: light file")
	switch {
	case smallfile.Refused(err):
		return 0, err
	case errors.Is(err, fs.ErrNotExist):
		return 0, fmt.Errorf("sim: light file %s does not exist: create it holding a whole number 0..1000 (e.g. echo 500 > %s)", path, path)
	case err != nil:
		return 0, fmt.Errorf("sim: light file %s cannot be read (%w): make it readable and write a whole number 0..1000 in it", path, errors.Unwrap(err))
	}
	s := strings.TrimSpace(string(data))
	v, err := strconv.Atoi(s)
	if err != nil || v < 0 || v > 1000 {
		if len(s) > 20 {
			s = s[:20] + "..."
		}
		return 0, fmt.Errorf("sim: light file %s holds %q: write a whole number 0..1000", path, s)
	}
	return v, nil
}

// curve is a smooth day/night cycle of the given period: a sine sharpened
// with tanh, so that it dwells near simDay by day and simNight by night and
// crosses the middle quickly at dawn and dusk. Time 0 of the Unix epoch, and
// every period after it, is dawn.
func curve(t time.Time, period time.Duration) int {
	phase := t.UnixNano() % int64(period)
	if phase < 0 {
		phase += int64(period)
	}
	s := math.Sin(2 * math.Pi * float64(phase) / float64(period))
	const sharp = 3
	shaped := math.Tanh(sharp*s) / math.Tanh(sharp)
	mid, amp := (simDay+simNight)/2.0, (simDay-simNight)/2.0
	return int(math.Round(mid + amp*shaped))
}
