#!/bin/busybox sh
# /init of the lab's guest (see .ci/lab): mount the API file systems, load
# the modules, make a gpio-sim chip with the Raspberry Pi's line names,
# start the emulated I2C bus, run the checks, report on the serial console
# and power off.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /run /tmp /var/lib /etc
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /var/lib
hostname nightlight-lab
echo "NIGHTLIGHT-LAB BOOTED uptime=$(cut -d' ' -f1 /proc/uptime)s kernel=$(uname -r)"

fail() {
	echo "NIGHTLIGHT-LAB SETUP FAILED: $*"
	echo "NIGHTLIGHT-LAB RESULT rc=3"
	poweroff -f
}

for m in configfs fuse cuse gpio-sim i2c-dev; do
	insmod /lib/modules/$m.ko 2>/tmp/insmod.log || fail "insmod $m: $(cat /tmp/insmod.log)"
done
# A real I2C adapter for the udev rule's check (/dev/i2c-0 through i2c-dev);
# the sensors are on the CUSE bus /dev/i2c-1.
insmod /lib/modules/i2c-stub.ko chip_addr=0x50 2>/tmp/insmod.log || fail "insmod i2c-stub: $(cat /tmp/insmod.log)"
dmesg -n 1 # keep the kernel's messages (the out-of-tree taint) off the console
mount -t configfs configfs /sys/kernel/config || fail "mount configfs"

# One chip of 28 lines, like the Pi's header GPIOs; lines 5 and 6 named as
# periph names them on a Pi: GPIO5 (the LED) and GPIO6 (ALERT/RDY).
chip=/sys/kernel/config/gpio-sim/pi
mkdir $chip $chip/bank0 || fail "gpio-sim configfs"
echo pinctrl-lab >$chip/bank0/label
echo 28 >$chip/bank0/num_lines
for n in 5 6; do
	mkdir $chip/bank0/line$n && echo GPIO$n >$chip/bank0/line$n/name || fail "gpio-sim line $n"
done
echo 1 >$chip/live || fail "gpio-sim live"
sim=$(echo /sys/devices/platform/gpio-sim.*/gpiochip*)
[ -e "$sim/sim_gpio5/value" ] || fail "no sim_gpio5 under $sim"
echo "NIGHTLIGHT-LAB GPIO $(ls /dev/gpiochip*) $sim"

nightlight-lab serve --alert-pull "$sim/sim_gpio6/pull" >/run/lab-serve.log 2>&1 &
for i in $(seq 50); do [ -S /run/nightlight-lab.sock ] && break; sleep 0.1; done
[ -S /run/nightlight-lab.sock ] || fail "nightlight-lab serve: $(cat /run/lab-serve.log)"
echo "NIGHTLIGHT-LAB I2C $(ls /dev/i2c-*)"

NIGHTLIGHT_LAB=1 NIGHTLIGHT_LAB_SIM="$sim" /bin/lab.test -test.v -test.timeout 200s
rc=$?
echo "NIGHTLIGHT-LAB SERVE LOG"
cat /run/lab-serve.log
echo "NIGHTLIGHT-LAB RESULT rc=$rc"
poweroff -f
