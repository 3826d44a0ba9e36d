# The lesson's server, for the benchmark: IoT for Beginners, lesson 4
# "Connect your device to the internet", code-commands/server/app.py, with
# paho-mqtt 1.6 as the lesson uses it.
#
# Where this differs from the lesson, and why (nothing else is changed):
# - The broker's host and port and the device id are arguments, instead of
#   test.mosquitto.org and '<ID>'.
# - The threshold is 300, as in the lesson's text and our server (the code
#   folder's copy says 200), so both systems decide alike.
#
# Usage: server.py HOST PORT ID
import json
import sys
import time

import paho.mqtt.client as mqtt

host, port, id = sys.argv[1], int(sys.argv[2]), sys.argv[3]

client_telemetry_topic = id + '/telemetry'
server_command_topic = id + '/commands'
client_name = id + 'nightlight_server'

mqtt_client = mqtt.Client(client_name)
mqtt_client.connect(host, port)

mqtt_client.loop_start()

def handle_telemetry(client, userdata, message):
    payload = json.loads(message.payload.decode())
    print("Message received:", payload)

    command = { 'led_on' : payload['light'] < 300 }
    print("Sending message:", command)

    client.publish(server_command_topic, json.dumps(command))

mqtt_client.subscribe(client_telemetry_topic)
mqtt_client.on_message = handle_telemetry

while True:
    time.sleep(2)
