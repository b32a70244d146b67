# disk_full.sh: a run whose output fills the file system stops with one clear
# message and exit status 3 on every rank, within the time limit (no hang),
# on 1 to 4 ranks; an -output on a read-only file system is one input error
# (exit 2).  Needs a small tmpfs, which only root can mount: otherwise the
# test is skipped (77).
source "$(dirname "$0")/common.sh"
work=$(mktemp -d)
mnt=$work/mnt
mkdir -p "$mnt"
trap 'umount "$mnt" 2>/dev/null; rm -rf "$work"' EXIT
if [ "$(id -u)" -ne 0 ] || ! mount -t tmpfs -o size=512k tmpfs "$mnt" 2>/dev/null; then
  echo "skipped: mounting a 512 KiB tmpfs needs root (and CAP_SYS_ADMIN in a container)"
  exit 77
fi
# 400 snapshots of 64x64 int8 spins: 1.6 MB, three times the file system.
for np in 1 2 3 4; do
  start=$SECONDS
  run $np -lattice_size 64,64 -sweeps 400 -thermalize 0 -snapshot_interval 1 -quiet -output "$mnt/full.h5" \
    >out.txt 2>err.txt
  rc=$?
  if [ $rc -eq 3 ] && grep -q "ising: error: .*No space left on device" err.txt &&
    [ "$(grep -c 'ising: error:' err.txt)" -eq 1 ] && [ -z "$(ls -A "$mnt")" ]; then
    pass "$np ranks: full disk: exit 3, $(grep 'ising: error:' err.txt) [$((SECONDS - start))s]"
  else
    fail "$np ranks: full disk: exit $rc (124: hang), left: $(ls -A "$mnt"): $(cat err.txt)"
  fi
done
umount "$mnt"
mount -t tmpfs -o size=512k,ro tmpfs "$mnt"
run 2 -lattice_size 8,8 -sweeps 10 -thermalize 0 -quiet -output "$mnt/ro.h5" >out.txt 2>err.txt
rc=$?
if [ $rc -eq 2 ] && grep -qF "option -output: cannot create '$mnt/ro.h5'" err.txt && grep -q "Read-only" err.txt; then
  pass "read-only file system: $(cat err.txt)"
else
  fail "read-only file system: exit $rc: $(cat err.txt)"
fi
finish
