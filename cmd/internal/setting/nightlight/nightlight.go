// Package nightlight defines the settings of nightlight, the device daemon;
// package setting tells how the definitions are used.
package nightlight

import (
	"os"
	"strings"

	"nightlight/cmd/internal/config"
	"nightlight/cmd/internal/device"
	"nightlight/cmd/internal/setting"
	"nightlight/hw/board"
	"nightlight/mqtt/homeassistant"
	"nightlight/mqtt/link"
	"nightlight/mqtt/outbox"
	"nightlight/mqtt/wire"
)

// Defaults that no other package owns.
const (
	DefaultStateDir = "/var/lib/nightlight" // the unit's StateDirectory=nightlight
	autoAddr        = "auto"                // i2c_addr: probe the ADC's usual addresses
)

// stateDir is the directory systemd's StateDirectory= hands over in
// $STATE_DIRECTORY (the first, if it lists several), else DefaultStateDir.
func stateDir() string {
	if d, _, _ := strings.Cut(os.Getenv("STATE_DIRECTORY"), ":"); d != "" {
		return d
	}
	return DefaultStateDir
}

// Settings are the device daemon's.
var Settings = config.Program{
	Name:      "nightlight",
	EnvPrefix: "NIGHTLIGHT_",
	Sections: []config.Section{
		{Title: "Connection", Settings: []config.Setting{
			setting.Broker,
			{Name: "id", Dynamic: setting.HostName, DefaultIs: "the host name, up to its first dot", Example: "nightlight-kitchen",
				Help: "device id in the topics ID/telemetry, ID/commands, ...: letters, digits, - and _",
				Doc:  "Device id in the topics ID/telemetry, ID/commands, ID/state and ID/status: letters, digits, - and _."},
			{Name: "keepalive", Default: link.DefaultKeepAlive,
				Help: "MQTT keepalive: a link that silently stops passing packets is noticed within twice this",
				Doc: "MQTT keepalive: a link that silently stops passing packets is noticed within twice this. " +
					"At 10s or less the link is checked every quarter of it, above 10s every 5s: each check wakes the daemon."},
		}},
		{Title: "Device and sensor", Settings: []config.Setting{
			{Name: "hardware", Default: board.DefaultHardware,
				Help: "light sensor and LED: grovehat, ads1115 or sim",
				Doc: "Light sensor and LED: grovehat (a Grove Base Hat), ads1115 (an ADS1115 ADC), " +
					"or sim (no hardware: an emulated Grove Base Hat, or with alert_pin an emulated ADS1115)."},
			{Name: "i2c-bus", Default: board.DefaultBus,
				Help: "I2C bus of the sensor",
				Doc:  "I2C bus of the sensor (1 is the Pi's header bus: /dev/i2c-1)."},
			{Name: "i2c-addr", Default: autoAddr,
				Help: "I2C address of the ADC: auto (Grove Base Hat: 0x04, then 0x08; ADS1115: 0x48) or a number such as 0x08"},
			{Name: "channel", Default: 0,
				Help: "analog channel of the light sensor (0 = socket A0)",
				Doc:  "Analog channel of the light sensor (0 = Grove socket A0)."},
			{Name: "led-pin", Default: board.DefaultLEDPin,
				Help: "GPIO of the LED (socket D5 = GPIO5)",
				Doc:  "GPIO of the LED (Grove socket D5 = GPIO5)."},
			{Name: "alert-pin", Default: "", DefaultIs: "none, polled",
				Help: "ads1115 (and sim): GPIO the ADC's ALERT/RDY is wired to; the sensor then wakes the daemon when the light changes instead of being read every sample-every",
				Doc: "ads1115 (and sim): the GPIO the ADS1115's ALERT/RDY pin is wired to, e.g. GPIO6. " +
					"The chip then watches the light itself and wakes the daemon only when the level leaves the deadband or crosses threshold, " +
					"so steady light costs almost no CPU; sample_every becomes the shortest time between two such wake-ups. " +
					"Without it the sensor is polled, read every sample_every; the Grove Base Hat has no alert output."},
			{Name: "samples", Default: board.DefaultSamples,
				Help: "sensor reads combined (median) into one reading",
				Doc: "Sensor reads combined (median) into one reading, an odd number up to 15. " +
					"On alert (alert_pin) a sample is the chip's latest conversion."},
		}},
		{Title: "Simulated hardware (hardware: sim)", Settings: []config.Setting{
			{Name: "sim-light", Default: "", DefaultIs: "a day/night curve",
				Help: "sim only: file holding the light level 0..1000, re-read at every sample, or with alert-pin when it changes",
				Doc:  "sim only: a file holding the light level 0..1000, re-read at every sample (with alert_pin: whenever it changes), instead of the day/night curve."},
			{Name: "sim-period", Default: board.DefaultSimPeriod,
				Help: "sim only: length of the simulated day/night cycle",
				Doc:  "sim only, without sim_light: length of the simulated day/night cycle."},
		}},
		{Title: "Sampling and publishing", Settings: []config.Setting{
			{Name: "interval", Default: device.DefaultInterval,
				Help: "heartbeat: a reading is published at least this often",
				Doc:  "Heartbeat: a reading is published at least this often (the lesson: 5s)."},
			{Name: "sample-every", Default: device.DefaultSampleEvery,
				Help: "how often the sensor is read; 0: only every interval, as the lesson does",
				Doc: "How often the sensor is read; with alert_pin, the least time between two samples woken by alerts. " +
					"A reading is published at once when the level moved by deadband or crossed threshold, but at most one per publish_gap; " +
					"otherwise once per interval. 0: the sensor is read only every interval, the lesson's plain behaviour."},
			{Name: "deadband", Default: device.DefaultDeadband,
				Help: "a change of the light level by this much is published at once (0: off); crossing threshold always is"},
			{Name: "publish-gap", Default: device.DefaultPublishGap,
				Help: "at most one reading per this gap, however the light flickers",
				Doc:  "At most one reading is published per this gap, however the light flickers (0: no limit)."},
		}},
		{Title: "Commands and offline behaviour", Settings: []config.Setting{
			{Name: "threshold", Default: wire.DefaultThreshold,
				Help: "this device's threshold: the LED goes on below this light level (the server's rule, and the offline fallback's)",
				Doc: "This device's threshold (0..1000): the LED goes on below this light level. The device reports it in its state, " +
					"and the server decides this device's LED by it; the offline fallback uses it, and a reading that crosses it is published at once. " +
					"A threshold command ({\"threshold\": N} on ID/commands) replaces it until this setting is changed."},
			{Name: "fallback-after", Default: device.DefaultFallbackAfter,
				Help: "how long without the broker before the device applies the threshold itself",
				Doc:  "How long without the broker before the device switches the LED itself by threshold; state.source then says fallback."},
			{Name: "max-command-age", Default: device.DefaultMaxCommandAge,
				Help: "commands decided longer ago than this are not applied",
				Doc:  "Commands decided longer ago than this are not applied (the log says why)."},
		}},
		{Title: "Outbox (readings kept on disk while the broker is away)", Settings: []config.Setting{
			{Name: "state-dir", Dynamic: stateDir, DefaultIs: "$STATE_DIRECTORY (systemd's StateDirectory=), else " + DefaultStateDir, Example: DefaultStateDir,
				Help: "directory of the outbox and sequence state",
				Doc:  "Where the outbox and the sequence number are kept: a directory the daemon may write."},
			{Name: "outbox-sync", Default: outbox.SyncGrouped.String(),
				Help: "when readings reach the disk: grouped (within a second unless delivered by then) or always (every reading)",
				Doc:  "When readings reach the disk: grouped (within a second, unless the broker has acknowledged them by then) or always (every reading, before it is sent)."},
			{Name: "outbox-max-mb", Default: outbox.DefaultMaxBytes >> 20,
				Help: "disk budget of the outbox in MiB; beyond it the oldest readings are dropped",
				Doc:  "Disk budget of the outbox in MiB; beyond it the oldest readings are dropped. The default holds about 900,000 readings, seven weeks at one every 5s."},
		}},
		{Title: "Home Assistant and metrics", Settings: []config.Setting{
			{Name: "homeassistant", Default: "true",
				Help: "announce the device to Home Assistant by MQTT discovery",
				Doc: "Announce the device to Home Assistant by MQTT discovery, retained on PREFIX/device/ID/config, and again whenever Home Assistant starts. " +
					"false: announce nothing, and take back what was announced before."},
			{Name: "homeassistant-prefix", Default: homeassistant.DefaultPrefix,
				Help: "Home Assistant's discovery prefix, as set in its MQTT integration"},
			setting.MetricsListen,
		}},
		setting.Security,
		setting.Logging,
	},
}
