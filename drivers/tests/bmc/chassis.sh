#!/bin/sh
# chassis_control program for ipmi_sim (see ipmi_lan(5), "chassis_control"):
#   chassis.sh STATE_DIR get PARM...        prints "PARM:VALUE" per PARM
#   chassis.sh STATE_DIR set PARM VAL...    applies each PARM=VAL, prints nothing
# PARM is power (0|1), reset (pulse), boot (none|pxe|default|cdrom|bios), shutdown
# (graceful off), identify. State lives in STATE_DIR/{power,boot}; every change is
# appended to STATE_DIR/events.log. Uses shell built-ins only (one fork per call).
dir="$1"
op="$2"
[ -n "$dir" ] && [ -d "$dir" ] || { echo "no state dir"; exit 1; }
shift 2
power=0; boot=default
[ -f "$dir/power" ] && read -r power < "$dir/power"
[ -f "$dir/boot" ] && read -r boot < "$dir/boot"
case "$op" in
get)
    for p in "$@"; do
        case "$p" in
        power) echo "power:$power" ;;
        boot) echo "boot:$boot" ;;
        *) echo "invalid parameter: $p"; exit 1 ;;
        esac
    done
    ;;
set)
    while [ $# -ge 2 ]; do
        p="$1"; v="$2"; shift 2
        case "$p" in
        power)
            case "$v" in 0|1) ;; *) echo "bad power value"; exit 1 ;; esac
            echo "$v" > "$dir/power"; power="$v"
            echo "power $v" >> "$dir/events.log" ;;
        reset)
            echo "reset" >> "$dir/events.log"
            [ "$power" = 1 ] || { echo 1 > "$dir/power"; power=1; } ;;
        shutdown)
            echo 0 > "$dir/power"; power=0
            echo "shutdown" >> "$dir/events.log" ;;
        boot)
            case "$v" in none|pxe|default|cdrom|bios) ;; *) echo "bad boot value"; exit 1 ;; esac
            echo "$v" > "$dir/boot"; boot="$v"
            echo "boot $v" >> "$dir/events.log" ;;
        identify) echo "identify $v" >> "$dir/events.log" ;;
        *) echo "invalid parameter: $p"; exit 1 ;;
        esac
    done
    [ $# -eq 0 ] || { echo "missing value"; exit 1; }
    ;;
*) echo "unknown operation: $op"; exit 1 ;;
esac
exit 0
