package main

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// What Home Assistant accepts in a device discovery config, as its MQTT
// documentation describes it and its MQTT integration validates it
// (homeassistant/components/mqtt: abbreviations.py, schemas.py, config.py
// and the platforms' PLATFORM_SCHEMA_MODERN). A platform's discovery
// schema drops keys it does not know without a word, which is how a typo
// goes unnoticed: hence the lists of known keys.

// haAbbreviations are the short keys Home Assistant expands (a subset: the
// ones a night light could use), for the root and component level.
var haAbbreviations = map[string]string{
	"avty": "availability", "avty_mode": "availability_mode", "avty_t": "availability_topic", "avty_tpl": "availability_template",
	"cmd_t": "command_topic", "cmd_tpl": "command_template", "cmps": "components", "def_ent_id": "default_entity_id",
	"dev": "device", "dev_cla": "device_class", "e": "encoding", "en": "enabled_by_default", "ent_cat": "entity_category",
	"ent_pic": "entity_picture", "exp_aft": "expire_after", "frc_upd": "force_update", "ic": "icon",
	"json_attr_t": "json_attributes_topic", "json_attr_tpl": "json_attributes_template", "o": "origin", "obj_id": "object_id",
	"off_dly": "off_delay", "ops": "options", "opt": "optimistic", "p": "platform", "pl_avail": "payload_available",
	"pl_not_avail": "payload_not_available", "pl_off": "payload_off", "pl_on": "payload_on", "pl_rst": "payload_reset",
	"ret": "retain", "stat_cla": "state_class", "stat_t": "state_topic", "sug_dsp_prc": "suggested_display_precision",
	"uniq_id": "unique_id", "unit_of_meas": "unit_of_measurement", "val_tpl": "value_template",
}

var haDeviceAbbreviations = map[string]string{
	"cns": "connections", "cu": "configuration_url", "ids": "identifiers", "mf": "manufacturer", "mdl": "model",
	"mdl_id": "model_id", "hw": "hw_version", "sw": "sw_version", "sa": "suggested_area", "sn": "serial_number",
}

var haOriginAbbreviations = map[string]string{"sw": "sw_version", "url": "support_url"}

// availabilityKeys may stand at the root of a device config and in a
// component (schemas.py: _MQTT_AVAILABILITY_SCHEMA).
var availabilityKeys = []string{"availability", "availability_mode", "availability_template", "availability_topic",
	"payload_available", "payload_not_available"}

// haRootKeys are all a device config may hold (DEVICE_DISCOVERY_SCHEMA
// refuses any other), and the required ones.
var (
	haRootKeys     = append([]string{"device", "components", "origin", "state_topic", "command_topic", "message_expiry_interval", "qos", "encoding"}, availabilityKeys...)
	haRootRequired = []string{"device", "components", "origin"}
	haDeviceKeys   = []string{"identifiers", "connections", "manufacturer", "model", "model_id", "name", "hw_version",
		"serial_number", "sw_version", "via_device", "suggested_area", "configuration_url"}
	haOriginKeys = []string{"name", "sw_version", "support_url"}
	// haSharedKeys pass from the root to every component (SHARED_OPTIONS).
	haSharedKeys = append([]string{"command_topic", "encoding", "message_expiry_interval", "state_topic", "qos"}, availabilityKeys...)
	// haCommonKeys are every entity's (MQTT_ENTITY_COMMON_SCHEMA, MQTT_BASE_SCHEMA).
	haCommonKeys = append([]string{"platform", "unique_id", "name", "device", "entity_picture", "origin", "enabled_by_default",
		"entity_category", "icon", "json_attributes_topic", "json_attributes_template", "default_entity_id",
		"message_expiry_interval", "visible_by_default", "qos", "encoding", "object_id"}, availabilityKeys...)
)

// haPlatform is one platform's own keys and its required ones.
type haPlatform struct{ keys, required []string }

var haPlatforms = map[string]haPlatform{
	"sensor": {keys: []string{"state_topic", "value_template", "device_class", "expire_after", "force_update",
		"last_reset_value_template", "suggested_display_precision", "state_class", "unit_of_measurement"},
		required: []string{"state_topic"}},
	"binary_sensor": {keys: []string{"state_topic", "value_template", "device_class", "expire_after", "force_update",
		"off_delay", "payload_off", "payload_on"},
		required: []string{"state_topic"}},
	"select": {keys: []string{"command_topic", "optimistic", "retain", "state_topic", "command_template", "options", "value_template"},
		required: []string{"command_topic", "options"}},
	"number": {keys: []string{"command_topic", "optimistic", "retain", "state_topic", "command_template", "device_class",
		"max", "min", "mode", "payload_reset", "step", "unit_of_measurement", "value_template"},
		required: []string{"command_topic"}},
}

// expand replaces abbreviated keys by their full names.
func expand(m map[string]any, abbr map[string]string) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		if full, ok := abbr[k]; ok {
			k = full
		}
		out[k] = v
	}
	return out
}

// haComponent is a component of a checked config, its keys expanded and
// the shared root options merged in, as Home Assistant sees it.
type haComponent struct {
	key, platform string
	opts          map[string]any
}

func (c haComponent) str(k string) string {
	s, _ := c.opts[k].(string)
	return s
}

// checkDiscoveryConfig holds payload to the rules above and returns its
// device and components.
func checkDiscoveryConfig(t *testing.T, payload []byte) (device map[string]any, cmps []haComponent) {
	t.Helper()
	var raw map[string]any
	if err := json.Unmarshal(payload, &raw); err != nil {
		t.Fatalf("the discovery config is not a JSON object: %v\n%s", err, payload)
	}
	root := expand(raw, haAbbreviations)
	for k := range root {
		if !slices.Contains(haRootKeys, k) {
			t.Errorf("root key %q: Home Assistant's device discovery schema refuses the whole config for it", k)
		}
	}
	for _, k := range haRootRequired {
		if _, ok := root[k]; !ok {
			t.Fatalf("root key %q is required", k)
		}
	}
	device = expand(root["device"].(map[string]any), haDeviceAbbreviations)
	for k, v := range device {
		if !slices.Contains(haDeviceKeys, k) {
			t.Errorf("device key %q is not one Home Assistant knows", k)
		}
		if k == "configuration_url" {
			checkURL(t, "device configuration_url", v)
		}
	}
	if ids, _ := device["identifiers"].([]any); len(ids) == 0 && device["connections"] == nil {
		t.Error("the device has no identifiers or connections: Home Assistant requires one")
	}
	origin := expand(root["origin"].(map[string]any), haOriginAbbreviations)
	for k, v := range origin {
		if !slices.Contains(haOriginKeys, k) {
			t.Errorf("origin key %q is not one Home Assistant knows", k)
		}
		if k == "support_url" {
			checkURL(t, "origin support_url", v)
		}
	}
	if name, _ := origin["name"].(string); name == "" {
		t.Error("origin has no name: Home Assistant requires one")
	}
	uids := map[string]string{}
	for key, c := range root["components"].(map[string]any) {
		opts := expand(c.(map[string]any), haAbbreviations)
		for _, k := range haSharedKeys {
			if v, ok := root[k]; ok {
				if _, set := opts[k]; !set {
					opts[k] = v
				}
			}
		}
		hc := haComponent{key: key, platform: fmt.Sprint(opts["platform"]), opts: opts}
		checkComponent(t, hc, uids)
		cmps = append(cmps, hc)
	}
	return device, cmps
}

func checkComponent(t *testing.T, c haComponent, uids map[string]string) {
	t.Helper()
	p, ok := haPlatforms[c.platform]
	if !ok {
		t.Errorf("component %s: platform %q is not one this test knows", c.key, c.platform)
		return
	}
	for k := range c.opts {
		if !slices.Contains(p.keys, k) && !slices.Contains(haCommonKeys, k) {
			t.Errorf("component %s (%s): key %q is not one Home Assistant knows: it would be dropped", c.key, c.platform, k)
		}
	}
	for _, k := range p.required {
		if _, ok := c.opts[k]; !ok {
			t.Errorf("component %s (%s): required key %q missing", c.key, c.platform, k)
		}
	}
	uid := c.str("unique_id")
	if uid == "" {
		t.Errorf("component %s: no unique_id: Home Assistant requires one in device discovery", c.key)
	} else if other, dup := uids[uid]; dup {
		t.Errorf("components %s and %s share unique_id %q", c.key, other, uid)
	}
	uids[uid] = c.key
	if ic := c.str("icon"); ic != "" && !strings.Contains(ic, ":") {
		t.Errorf("component %s: icon %q is not prefix:name", c.key, ic)
	}
	if ec := c.str("entity_category"); ec != "" && ec != "config" && ec != "diagnostic" {
		t.Errorf("component %s: entity_category %q is not config or diagnostic", c.key, ec)
	}
	if sc := c.str("state_class"); sc != "" && !slices.Contains([]string{"measurement", "measurement_angle", "total", "total_increasing"}, sc) {
		t.Errorf("component %s: state_class %q", c.key, sc)
	}
	if e, ok := c.opts["expire_after"]; ok {
		if f, ok := e.(float64); !ok || f != float64(int(f)) || f < 1 {
			t.Errorf("component %s: expire_after %v is not a positive whole number of seconds", c.key, e)
		}
	}
	if c.platform == "number" {
		lo, hi := c.opts["min"].(float64), c.opts["max"].(float64)
		if lo >= hi {
			t.Errorf("component %s: min %v >= max %v", c.key, lo, hi)
		}
		if m := c.str("mode"); m != "" && !slices.Contains([]string{"auto", "box", "slider"}, m) {
			t.Errorf("component %s: mode %q", c.key, m)
		}
	}
}

func checkURL(t *testing.T, what string, v any) {
	t.Helper()
	s, _ := v.(string)
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https" && u.Scheme != "homeassistant") || u.Host == "" && u.Scheme != "homeassistant" {
		t.Errorf("%s %q: Home Assistant takes an http(s):// or homeassistant:// URL", what, s)
	}
}

// jinja renders Home Assistant's templates with a real Jinja2 (Debian's
// python3-jinja2), in a sandbox as Home Assistant does, and strictly: an
// undefined name is an error here, where Home Assistant would render it
// empty and log a warning.
type jinja struct{ script string }

const jinjaScript = `import json, sys
from jinja2 import StrictUndefined
from jinja2.sandbox import ImmutableSandboxedEnvironment
env = ImmutableSandboxedEnvironment(undefined=StrictUndefined)
out = []
for job in json.load(sys.stdin):
    try:
        out.append({"out": env.from_string(job["template"]).render(**job["vars"])})
    except Exception as e:
        out.append({"error": "%s: %s" % (type(e).__name__, e)})
json.dump(out, sys.stdout)
`

// newJinja finds python3 with jinja2: missing, the test is skipped, or
// failed under NIGHTLIGHT_REQUIRE_JINJA2=1 (CI sets it).
func newJinja(t *testing.T) *jinja {
	t.Helper()
	if err := exec.Command("python3", "-c", "import jinja2.sandbox").Run(); err != nil {
		msg := fmt.Sprintf("python3 with jinja2 (Debian: python3-jinja2) is needed to render Home Assistant's templates: %v", err)
		if os.Getenv("NIGHTLIGHT_REQUIRE_JINJA2") == "1" {
			t.Fatal("NIGHTLIGHT_REQUIRE_JINJA2=1 but " + msg)
		}
		t.Skip(msg + " (set NIGHTLIGHT_REQUIRE_JINJA2=1 to fail instead)")
	}
	path := filepath.Join(t.TempDir(), "render.py")
	if err := os.WriteFile(path, []byte(jinjaScript), 0o644); err != nil {
		t.Fatal(err)
	}
	return &jinja{script: path}
}

// renderJob is a template and the variables Home Assistant gives it.
type renderJob struct {
	Template string         `json:"template"`
	Vars     map[string]any `json:"vars"`
}

// valueVars are a value template's variables for an MQTT payload: the
// payload as value and, for JSON, parsed as value_json.
func valueVars(t *testing.T, payload []byte) map[string]any {
	t.Helper()
	var v any
	if err := json.Unmarshal(payload, &v); err != nil {
		t.Fatalf("payload %q is not JSON: %v", payload, err)
	}
	return map[string]any{"value": string(payload), "value_json": v}
}

// render renders the jobs in one run of python3; a template that does not
// render fails the test.
func (j *jinja) render(t *testing.T, jobs []renderJob) []string {
	t.Helper()
	in, err := json.Marshal(jobs)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("python3", j.script)
	cmd.Stdin = strings.NewReader(string(in))
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("python3 %s: %v", j.script, err)
	}
	var res []struct{ Out, Error string }
	if err := json.Unmarshal(out, &res); err != nil || len(res) != len(jobs) {
		t.Fatalf("renderer answered %q: %v", out, err)
	}
	var outs []string
	for i, r := range res {
		if r.Error != "" {
			t.Errorf("template %q with %v: %s", jobs[i].Template, jobs[i].Vars, r.Error)
		}
		outs = append(outs, r.Out)
	}
	return outs
}
