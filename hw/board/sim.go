package board

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
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

// maxLightFile bounds what is read of the light file: a number. A path set
// wrong (a log, /dev/zero, a pipe) is refused, never read without end.
const maxLightFile = 4 << 10

// readLightFile reads a level 0..1000 written as a whole number in a file.
func readLightFile(path string) (int, error) {
	data, err := readSmall(path, maxLightFile)
	switch {
	case errors.Is(err, errRefused):
		return 0, fmt.Errorf("sim: light file %s %w: point sim_light at a regular file holding a whole number 0..1000", path, err)
	case errors.Is(err, fs.ErrNotExist):
		return 0, fmt.Errorf("sim: light file %s does not exist: create it holding a whole number 0..1000 (e.g. echo 500 > %s)", path, path)
	case err != nil:
		return 0, fmt.Errorf("sim: light file %s cannot be read (%w): make it readable and write a whole number 0..1000 in it", path, err)
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

// errRefused is wrapped by readSmall's refusal of a file: too large, or
// not a regular file.
var errRefused = errors.New("refused")

// readSmall reads a regular file of at most max bytes. It follows the rules
// the programs' other files are read by (cmd/internal/smallfile, which hw
// may not import): opened without blocking, so a named pipe cannot hang the
// daemon, its kind checked before a byte is read, and a bound.
func readSmall(path string, max int64) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if m := fi.Mode(); !m.IsRegular() {
		kind := "not a regular file"
		switch {
		case m.IsDir():
			kind = "a directory"
		case m&fs.ModeNamedPipe != 0:
			kind = "a named pipe"
		case m&fs.ModeDevice != 0:
			kind = "a device"
		case m&fs.ModeSocket != 0:
			kind = "a socket"
		}
		return nil, fmt.Errorf("is %s (%w)", kind, errRefused)
	}
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > max {
		return nil, fmt.Errorf("is over its limit of %d bytes (%w)", max, errRefused)
	}
	return data, nil
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
