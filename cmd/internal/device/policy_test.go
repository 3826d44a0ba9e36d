package device

import (
	"strings"
	"testing"
	"time"

	"nightlight/mqtt/wire"
)

// t0 is the start of every policy test's timeline.
var t0 = time.Date(2026, 12, 1, 18, 0, 0, 0, time.UTC)

func ms(n int) time.Time { return t0.Add(time.Duration(n) * time.Millisecond) }

// testPolicy is the defaults of the daemon: heartbeat 5 s, sampling every
// 100 ms, deadband 30, publish_gap 500 ms, threshold 300.
func testPolicy() *policy {
	cfg := Config{
		Interval:      DefaultInterval,
		SampleEvery:   DefaultSampleEvery,
		Deadband:      DefaultDeadband,
		PublishGap:    DefaultPublishGap,
		Threshold:     wire.DefaultThreshold,
		FallbackAfter: DefaultFallbackAfter,
		MaxCommandAge: DefaultMaxCommandAge,
	}
	p := newPolicy(cfg, Choices{Mode: wire.ModeAuto, Threshold: cfg.Threshold})
	return &p
}

// TestPolicySample runs sequences of samples through the publish policy.
func TestPolicySample(t *testing.T) {
	type step struct {
		at    int // ms after t0
		level int
		want  verdict
	}
	pub := verdict{publish: true}
	event := verdict{publish: true, event: true}
	quiet := verdict{}
	held := verdict{held: true}
	for _, tc := range []struct {
		name  string
		setup func(*policy)
		steps []step
	}{
		{"the first sample is always published", nil, []step{{0, 500, pub}}},
		{"steady light: a heartbeat per interval, nothing between", nil, []step{
			{0, 500, pub}, {100, 500, quiet}, {4900, 510, quiet}, {4950, 505, pub}, {5000, 500, quiet}, {9950, 500, pub}}},
		{"half a sample period of slack keeps an early tick from slipping a heartbeat", nil, []step{
			{0, 500, pub}, {4949, 500, quiet}, {4950, 500, pub}}},
		{"a move by the deadband is an event at once", nil, []step{
			{0, 500, pub}, {100, 529, quiet}, {200, 530, event}, {300, 500, held}, {700, 500, event}}},
		{"crossing the threshold is an event, however small", nil, []step{
			{0, 300, pub}, {100, 299, event}, {700, 300, event}}},
		{"publish_gap holds a second change back; the gap's end lets it go", nil, []step{
			{0, 500, pub}, {100, 100, event}, {200, 800, held}, {500, 800, held}, {600, 800, event}}},
		{"a change that waited becomes a heartbeat if the heartbeat comes first", func(p *policy) { p.cfg.PublishGap = time.Hour }, []step{
			{0, 500, pub}, {100, 100, event}, {200, 800, held}, {5100, 800, pub}, {5200, 100, held}}},
		{"a heartbeat does not hold a change back", nil, []step{
			{0, 500, pub}, {4950, 500, pub}, {5000, 100, event}}},
		{"deadband 0: only the threshold counts", func(p *policy) { p.cfg.Deadband = 0 }, []step{
			{0, 500, pub}, {100, 900, quiet}, {200, 301, quiet}, {300, 299, event}}},
		{"threshold 0: never dark, deadband only", func(p *policy) { p.cfg.Threshold = 0 }, []step{
			{0, 0, pub}, {100, 29, quiet}, {200, 30, event}}},
		{"sample_every 0, the lesson's way: heartbeats a whole interval apart", func(p *policy) { p.cfg.SampleEvery = 0 }, []step{
			{0, 500, pub}, {2400, 500, quiet}, {2500, 500, pub}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := testPolicy()
			if tc.setup != nil {
				tc.setup(p)
			}
			p.threshold = p.cfg.Threshold
			for i, s := range tc.steps {
				if got := p.sample(s.level, ms(s.at)); got != s.want {
					t.Errorf("step %d (%d ms, level %d): %+v, want %+v", i, s.at, s.level, got, s.want)
				}
			}
		})
	}
}

// TestPolicyWindow: the range of levels that is no news, which an alerting
// sensor is armed with.
func TestPolicyWindow(t *testing.T) {
	for _, tc := range []struct {
		last, deadband, threshold int
		lo, hi                    int
	}{
		{500, 30, 300, 471, 529},
		{310, 30, 300, 300, 339}, // darkness is a crossing before it is a deadband's move
		{100, 30, 300, 71, 129},
		{290, 30, 300, 261, 299},
		{10, 30, 300, 0, 39},
		{990, 30, 300, 961, 1000},
		{500, 0, 300, 300, 1000}, // deadband off: only the threshold
		{100, 0, 300, 0, 299},
		{500, 1, 300, 500, 500},
		{500, 30, 0, 471, 529},
		{500, 30, 2000, 471, 529},
	} {
		p := &policy{cfg: Config{Deadband: tc.deadband}, threshold: tc.threshold, lastPub: tc.last}
		if lo, hi := p.window(); lo != tc.lo || hi != tc.hi {
			t.Errorf("last %d deadband %d threshold %d: window %d..%d, want %d..%d", tc.last, tc.deadband, tc.threshold, lo, hi, tc.lo, tc.hi)
		}
	}
}

// TestPolicyNextWake: when a watched device must sample without an alert.
// The last reading was published at 0, the last sample taken at 1000 ms.
func TestPolicyNextWake(t *testing.T) {
	base := sampler{lastSampleAt: ms(1000), armed: true}
	for _, tc := range []struct {
		name   string
		change func(*sampler)
		want   int // ms after t0
	}{
		{"armed, connected: the next heartbeat", nil, 5000},
		{"not armed: the next sample period", func(s *sampler) { s.armed = false }, 1100},
		{"an alert that came too soon: the sample period's end", func(s *sampler) { s.alerted = true }, 1100},
		{"a held change: the gap's end", func(s *sampler) { s.held = true }, 1100},
		{"a held change, gap ending after the period", func(s *sampler) { s.held, s.lastSampleAt = true, ms(300) }, 500},
		{"failing sensor: its retry", func(s *sampler) { s.failing, s.retryAt = true, ms(3000) }, 3000},
		{"failing sensor, retry due: no sooner than a period", func(s *sampler) { s.failing, s.retryAt = true, ms(0) }, 1100},
		{"offline: when the fallback is due", func(s *sampler) { s.offlineSince = ms(-28000) }, 2000},
		{"offline, fallback already sampled: the heartbeat", func(s *sampler) { s.offlineSince = ms(-40000) }, 5000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := testPolicy()
			p.sample(500, ms(0))
			p.lastEventAt = ms(0)
			s := base
			if tc.change != nil {
				tc.change(&s)
			}
			if got := p.nextWake(s); !got.Equal(ms(tc.want)) {
				t.Errorf("next wake at %s, want %d ms", got.Sub(t0), tc.want)
			}
		})
	}
	t.Run("before the first reading: the next period", func(t *testing.T) {
		if got := testPolicy().nextWake(base); !got.Equal(ms(1100)) {
			t.Errorf("next wake at %s, want 1100 ms", got.Sub(t0))
		}
	})
}

// TestPolicyCommand: which valid commands are applied, in sequence, and
// what they change.
func TestPolicyCommand(t *testing.T) {
	now := t0
	type step struct {
		cmd      wire.Command
		noTS     bool
		retained bool
		reason   string // "" when applied
		quiet    bool   // ignored without a warning
	}
	led := func(on bool, ts time.Duration, seq uint64) wire.Command {
		return wire.Command{Kind: wire.CommandLED, LEDOn: on, TS: t0.Add(ts), Seq: seq}
	}
	mode := func(m string) wire.Command { return wire.Command{Kind: wire.CommandMode, Mode: m} }
	threshold := func(n int) wire.Command { return wire.Command{Kind: wire.CommandThreshold, Threshold: n} }
	for _, tc := range []struct {
		name          string
		steps         []step
		wantMode      string
		wantThreshold int
	}{
		{"the lesson's command, live", []step{{cmd: led(true, 0, 0), noTS: true}}, "auto", 300},
		{"the lesson's command, retained: its age is unknown", []step{{cmd: led(true, 0, 0), noTS: true, retained: true, reason: "retained command without ts"}}, "auto", 300},
		{"a fresh retained command is applied", []step{{cmd: led(true, -time.Second, 0), retained: true}}, "auto", 300},
		{"stale", []step{{cmd: led(true, -61*time.Second, 0), reason: "stale: decided 1m1s ago, max_command_age is 1m0s"}}, "auto", 300},
		{"just inside max_command_age", []step{{cmd: led(true, -time.Minute, 0)}}, "auto", 300},
		{"from the future", []step{{cmd: led(true, 2*time.Minute, 0), reason: "in the future: check the clocks"}}, "auto", 300},
		{"out of order by ts", []step{{cmd: led(true, 0, 0)}, {cmd: led(false, -time.Second, 0), reason: "out of order: older than the newest"}, {cmd: led(true, time.Millisecond, 0)}}, "auto", 300},
		{"the same ts again is not out of order", []step{{cmd: led(true, 0, 0)}, {cmd: led(true, 0, 0)}}, "auto", 300},
		{"no ts does not move the newest", []step{{cmd: led(true, 0, 0)}, {cmd: led(true, 0, 0), noTS: true}, {cmd: led(true, -time.Millisecond, 0), reason: "out of order"}}, "auto", 300},
		{"a refused command does not move the newest", []step{{cmd: led(true, 0, 0)}, {cmd: led(true, 2*time.Minute, 0), reason: "future"}, {cmd: led(true, time.Second, 0)}}, "auto", 300},
		{"an answer to an older reading than one answered is refused, whatever its ts",
			[]step{{cmd: led(true, 0, 12)}, {cmd: led(false, time.Second, 11), reason: "answers reading 11, older than reading 12 already answered"}, {cmd: led(false, 2*time.Second, 12)}, {cmd: led(false, 3*time.Second, 13)}}, "auto", 300},
		{"an answer without a seq is not ordered by seq", []step{{cmd: led(true, 0, 12)}, {cmd: led(false, time.Second, 0)}}, "auto", 300},
		{"mode on: the server's commands are ignored, quietly", []step{{cmd: mode("on"), noTS: true}, {cmd: led(false, 0, 1), reason: "mode is on", quiet: true}}, "on", 300},
		{"mode off, then auto: the server decides again", []step{{cmd: mode("off"), noTS: true}, {cmd: led(true, 0, 1), reason: "mode is off", quiet: true}, {cmd: mode("auto"), noTS: true}, {cmd: led(true, time.Second, 2)}}, "auto", 300},
		{"an answer ignored in mode on is not answered", []step{{cmd: mode("on"), noTS: true}, {cmd: led(false, 0, 9), reason: "mode is on", quiet: true}, {cmd: mode("auto"), noTS: true}, {cmd: led(false, time.Second, 5)}}, "auto", 300},
		{"a stale mode command is refused", []step{{cmd: wire.Command{Kind: wire.CommandMode, Mode: "on", TS: t0.Add(-time.Hour)}, reason: "stale"}}, "auto", 300},
		{"a retained mode command without ts is refused", []step{{cmd: mode("on"), noTS: true, retained: true, reason: "retained command without ts"}}, "auto", 300},
		{"threshold", []step{{cmd: threshold(120), noTS: true}}, "auto", 120},
		{"threshold 0 and 1000 are valid", []step{{cmd: threshold(0), noTS: true}, {cmd: threshold(1000), noTS: true}}, "auto", 1000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := testPolicy()
			for i, s := range tc.steps {
				c := s.cmd
				if s.noTS {
					c.TS = time.Time{}
				}
				got := p.command(c, s.retained, now)
				if got.apply != (s.reason == "") || !strings.Contains(got.reason, s.reason) || got.quiet != s.quiet {
					t.Errorf("step %d: %+v, want reason %q quiet %v", i, got, s.reason, s.quiet)
				}
			}
			if p.mode != tc.wantMode || p.threshold != tc.wantThreshold {
				t.Errorf("mode %s threshold %d, want %s and %d", p.mode, p.threshold, tc.wantMode, tc.wantThreshold)
			}
		})
	}
}

// TestPolicyThresholdMovesEverything: a threshold chosen by command is the
// one the publish policy, the sensor's window and the fallback use.
func TestPolicyThresholdMovesEverything(t *testing.T) {
	p := testPolicy()
	p.command(wire.Command{Kind: wire.CommandThreshold, Threshold: 500}, false, ms(0))
	p.sample(520, ms(0))
	if lo, hi := p.window(); lo != 500 || hi != 549 {
		t.Errorf("window %d..%d, want 500..549 (the threshold 500 bounds it below)", lo, hi)
	}
	if vd := p.sample(499, ms(600)); !vd.event {
		t.Errorf("520 -> 499 across threshold 500: %+v, want an event", vd)
	}
	if on, ok := p.fallback(450, ms(-3600000), ms(0)); !ok || !on {
		t.Errorf("fallback at 450 with threshold 500 = (%v, %v), want on", on, ok)
	}
}

// TestPolicyBackToAuto: handing the LED back to the server publishes the
// next sample at once, so its answer decides without waiting a heartbeat.
func TestPolicyBackToAuto(t *testing.T) {
	p := testPolicy()
	p.sample(500, ms(0))
	p.command(wire.Command{Kind: wire.CommandMode, Mode: wire.ModeOn}, false, ms(100))
	if vd := p.sample(500, ms(200)); vd.publish {
		t.Fatalf("steady light in mode on published: %+v", vd)
	}
	p.command(wire.Command{Kind: wire.CommandMode, Mode: wire.ModeAuto}, false, ms(300))
	if got := p.nextWake(sampler{lastSampleAt: ms(200), armed: true}); !got.Equal(ms(300)) {
		t.Errorf("a watched device wakes at %s, want at the next sample period", got.Sub(t0))
	}
	if vd := p.sample(500, ms(300)); !vd.publish {
		t.Errorf("the first sample after mode auto was not published: %+v", vd)
	}
	if vd := p.sample(500, ms(400)); vd.publish {
		t.Errorf("the second one was: %+v", vd)
	}
}

// TestPolicyFallback: the device decides by itself only after
// fallback_after without the broker, by the server's rule, and never while
// a person decides.
func TestPolicyFallback(t *testing.T) {
	for _, tc := range []struct {
		name          string
		offlineSince  time.Time
		light         int
		wantOn, apply bool
	}{
		{"connected", time.Time{}, 100, false, false},
		{"offline, not yet long enough", ms(-29999), 100, false, false},
		{"offline long enough, dark", ms(-30000), 100, true, true},
		{"offline long enough, bright", ms(-30000), 800, false, true},
		{"at the threshold: bright", ms(-60000), 300, false, true},
		{"one below: dark", ms(-60000), 299, true, true},
	} {
		on, ok := testPolicy().fallback(tc.light, tc.offlineSince, ms(0))
		if on != tc.wantOn || ok != tc.apply {
			t.Errorf("%s: fallback = (%v, %v), want (%v, %v)", tc.name, on, ok, tc.wantOn, tc.apply)
		}
	}
	p := testPolicy()
	p.command(wire.Command{Kind: wire.CommandMode, Mode: wire.ModeOff}, false, ms(0))
	if _, ok := p.fallback(100, ms(-3600000), ms(0)); ok {
		t.Error("the fallback decided while a person does (mode off)")
	}
}
