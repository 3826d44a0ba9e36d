# The lesson's night light device, for the benchmark: IoT for Beginners,
# lesson 4 "Connect your device to the internet", code-commands/pi/nightlight/app.py,
# with paho-mqtt 1.6 as the lesson uses it.
#
# Where this differs from the lesson, and why (nothing else is changed):
# - The light level is read from a file, the one `nightlight --hardware sim
#   --sim-light FILE` reads, instead of the Grove light sensor on A0, so both
#   systems see the same scripted light.
# - The LED is printed ("LED on" / "LED off", when it changes) instead of
#   switching the Grove LED on D5, so the benchmark can see when it changes.
# - The broker's host and port and the device id are arguments, instead of
#   test.mosquitto.org and '<ID>'.
#
# Usage: device.py HOST PORT ID LIGHT_FILE
import json
import sys
import time

import paho.mqtt.client as mqtt


class FileLightSensor:
    # Stands in for GroveLightSensor(0): .light is the level 0..1000.
    def __init__(self, path):
        self.path = path

    @property
    def light(self):
        with open(self.path) as f:
            return int(f.read())


class PrintedLed:
    # Stands in for GroveLed(5): prints each change.
    def __init__(self):
        self.lit = False

    def on(self):
        if not self.lit:
            print('LED on')
        self.lit = True

    def off(self):
        if self.lit:
            print('LED off')
        self.lit = False


host, port, id, light_file = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]

light_sensor = FileLightSensor(light_file)
led = PrintedLed()

client_telemetry_topic = id + '/telemetry'
server_command_topic = id + '/commands'
client_name = id + 'nightlight_client'

mqtt_client = mqtt.Client(client_name)
mqtt_client.connect(host, port)

mqtt_client.loop_start()

def handle_command(client, userdata, message):
    payload = json.loads(message.payload.decode())
    print("Message received:", payload)

    if payload['led_on']:
        led.on()
    else:
        led.off()

mqtt_client.subscribe(server_command_topic)
mqtt_client.on_message = handle_command

while True:
    light = light_sensor.light
    print('Light level:', light)

    mqtt_client.publish(client_telemetry_topic, json.dumps({'light' : light}))

    time.sleep(5)
