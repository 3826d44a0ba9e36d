// Package nightlightserver defines the settings of nightlight-server, the
// control server; package setting tells how the definitions are used.
package nightlightserver

import (
	"nightlight/cmd/internal/config"
	"nightlight/cmd/internal/control"
	"nightlight/cmd/internal/setting"
	"nightlight/mqtt/wire"
)

// Settings are the control server's.
var Settings = config.Program{
	Name:      "nightlight-server",
	EnvPrefix: "NIGHTLIGHT_SERVER_",
	Sections: []config.Section{
		{Title: "Connection", Settings: []config.Setting{
			setting.Broker,
			{Name: "client-id", Dynamic: clientID, DefaultIs: "nightlight-server-HOSTNAME, the host name up to its first dot", Example: "nightlight-server-myhost",
				Help: "MQTT client id of the server (unique per broker)",
				Doc:  "MQTT client id of the server, unique per broker: a second client with the same id pushes the first off."},
		}},
		{Title: "Control", Settings: []config.Setting{
			{Name: "id", Default: wire.AllDevices,
				Help: "device to control, or + for every device",
				Doc:  "The device to control, or + for every device on the broker."},
			{Name: "share-group", Default: "", DefaultIs: "none: this server decides for every device it follows",
				Help: "share the devices with the other servers of this group ($share/NAME/ID/telemetry)",
				Doc: "Share the devices with the other servers of this group: the telemetry is subscribed as $share/NAME/ID/telemetry, " +
					"so the broker hands each reading to one of them, and any number of instances split the load; when one stops, the others " +
					"carry its devices on. Needs a broker with shared subscriptions (MQTT 5, or Mosquitto 2, EMQX, HiveMQ and VerneMQ also over " +
					"MQTT 3.1.1). Give each instance its own client_id. Letters, digits, '-' and '_'."},
			{Name: "threshold", Default: wire.DefaultThreshold,
				Help: "the LED goes on below this light level (0..1000)",
				Doc:  "The LED goes on below this light level (0..1000), for a device that reports no threshold of its own."},
			{Name: "max-age", Default: control.DefaultMaxAge,
				Help: "readings taken longer ago than this are history: logged, not acted on"},
		}},
		{Title: "Metrics", Settings: []config.Setting{setting.MetricsListen}},
		setting.Security,
		setting.Logging,
	},
}

// clientID is the server's default MQTT client id, which names the machine
// so that servers on two machines do not push each other off.
func clientID() string { return "nightlight-server-" + setting.HostName() }
