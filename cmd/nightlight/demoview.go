//go:build !nodemo

package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"nightlight/mqtt/link"
	"nightlight/mqtt/wire"
)

// view is the demo's live view: an MQTT client of the demo's broker, like
// any consumer of the device's topics, that prints one line per change of
// the LED, with a bar of the light level and the threshold marked, and the
// server's newest command:
//
//	18:01:02.5  light  157 ▕██████▌     │                            ▏ LED ● on   server: led_on=true
//
// On a terminal the newest line also follows every reading in place.
type view struct {
	conn *link.Link

	mu        sync.Mutex
	w         io.Writer
	tty       bool // redraw the last line in place as readings come
	threshold int
	light     *int
	state     *wire.State // the device's retained state: its LED and who set it
	cmd       string      // the server's newest command
	printed   string      // the LED as the last line showed it
}

// barWidth is the light bar's width in cells; each cell is 1000/barWidth
// levels.
const barWidth = 40

// startView subscribes to the device's telemetry, commands and state.
func startView(url, id string, w io.Writer) (*view, error) {
	conn, err := link.New(link.Options{Broker: url, ClientID: "nightlight-demo-view"})
	if err != nil {
		return nil, err
	}
	v := &view{conn: conn, w: w, tty: isTerminal(w), threshold: wire.DefaultThreshold}
	conn.Subscribe(wire.Topic(id, wire.KindTelemetry), v.onTelemetry)
	conn.Subscribe(wire.Topic(id, wire.KindCommands), v.onCommand)
	conn.Subscribe(wire.Topic(id, wire.KindState), v.onState)
	conn.Start()
	return v, nil
}

func (v *view) close() {
	v.conn.Close()
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.tty {
		fmt.Fprintln(v.w)
	}
}

func (v *view) onTelemetry(m link.Message) {
	t, err := wire.ParseTelemetry(m.Payload)
	if err != nil {
		return
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	v.light = &t.Light
	v.draw()
}

func (v *view) onCommand(m link.Message) {
	c, err := wire.ParseCommand(m.Payload)
	if err != nil {
		return
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	v.cmd = fmt.Sprintf("led_on=%t", c.LEDOn)
	v.draw()
}

func (v *view) onState(m link.Message) {
	s, err := wire.ParseState(m.Payload)
	if err != nil {
		return
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	v.state = &s
	if s.Light != nil {
		v.light = s.Light
	}
	v.draw()
}

// draw prints a new line when the LED, or who set it, changed; on a
// terminal it otherwise redraws the last line. v.mu is held.
func (v *view) draw() {
	if v.light == nil {
		return
	}
	lamp := "LED ?    "
	if s := v.state; s != nil {
		lamp = map[bool]string{true: "LED ● on ", false: "LED ○ off"}[s.LEDOn]
		if s.Source != wire.SourceCommand {
			lamp += " (" + s.Source + ")"
		}
	}
	cmd := v.cmd
	if cmd == "" {
		cmd = "(nothing yet)"
	}
	line := fmt.Sprintf("%s  light %4d %s %s  server: %s", time.Now().Format("15:04:05.0"), *v.light, bar(*v.light, v.threshold), lamp, cmd)
	switch {
	case lamp != v.printed:
		if v.tty {
			fmt.Fprint(v.w, "\r\033[K"+line+"\n")
		} else {
			fmt.Fprintln(v.w, line)
		}
		v.printed = lamp
	case v.tty:
		fmt.Fprint(v.w, "\r\033[K"+line)
	}
}

// bar draws level 0..1000 as barWidth cells, with the threshold marked
// where it falls.
func bar(level, threshold int) string {
	const per = (wire.MaxLight + barWidth - 1) / barWidth
	var b strings.Builder
	b.WriteString("▕")
	for i := range barWidth {
		if i == threshold/per {
			b.WriteString("│")
		}
		switch {
		case level >= (i+1)*per:
			b.WriteString("█")
		case level > i*per:
			b.WriteString("▌")
		default:
			b.WriteString(" ")
		}
	}
	b.WriteString("▏")
	return b.String()
}

// isTerminal reports whether w is a terminal, where lines can be redrawn.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
