#!/usr/bin/env bash
# The README's command for playbooks/flush_outbox.yml, as the README shows it, with the recorder enabled by an
# ansible.cfg: it delivers what the recorder queued while the store was down, and the flush is not logged as a
# change (the command turns the recorder off; an empty ANSIBLE_CALLBACKS_ENABLED= fails with ansible-core 2.19).
# Without the command's setting, the same flush is logged as a change: the recorder was on.
set -eux
cd "$(dirname "$0")"
# shellcheck source=../setup_collection/collection.sh
source ../setup_collection/collection.sh
make_workdir playbook_flush_outbox
unset ANSIBLE_CALLBACKS_ENABLED ITSM_CHANGE ITSM_RECORDER_RUN_ID JOB_ID CI_PIPELINE_ID GITHUB_RUN_ID || true
export ANSIBLE_NOCOLOR=1 ITSM_BACKEND=local ITSM_LOCAL_DB="$WORK/store/itsm.sqlite" ITSM_OUTBOX="$WORK/outbox.sqlite"
export ANSIBLE_CONFIG="$WORK/ansible.cfg"
printf '[defaults]\ncallbacks_enabled = opsgate.itsm.recorder\n' > "$ANSIBLE_CONFIG"
mkdir -p "$WORK/store"

changes() {  # the number of changes in the store
    "$PYTHON" -c 'import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT count(*) FROM changes").fetchone()[0])' \
        "$ITSM_LOCAL_DB"
}

# A run while the store is down (a file where its directory should be): the recorder queues its change.
mv "$WORK/store" "$WORK/store.saved" && echo down > "$WORK/store"
ansible-playbook -i localhost, -c local run.yml > "$WORK/queued.log" 2>&1 || { cat "$WORK/queued.log"; exit 1; }
grep -q "records queued in the outbox" "$WORK/queued.log" || { cat "$WORK/queued.log"; exit 1; }
rm "$WORK/store" && mv "$WORK/store.saved" "$WORK/store"
[ ! -e "$ITSM_LOCAL_DB" ]  # nothing reached the store

# The README's command, word for word, from the collection's root.
command=$(grep -o 'ANSIBLE_CALLBACKS_ENABLED=[^`]*flush_outbox.yml' "$COLLECTION_ROOT/README.md" | sort -u)
[ "$(printf '%s\n' "$command" | wc -l)" -eq 1 ] && [ -n "$command" ] || { echo "README: one flush command, not [$command]"; exit 1; }
(cd "$COLLECTION_ROOT" && eval "$command") > "$WORK/flush.log" 2>&1 || { cat "$WORK/flush.log"; exit 1; }
grep -qE 'sent [1-9][0-9]*, refused 0, still pending 0[^0-9]' "$WORK/flush.log" || { cat "$WORK/flush.log"; exit 1; }
# The queued run's change, delivered; none for the flush.
[ "$(changes)" -eq 1 ] || { cat "$WORK/flush.log"; echo "the flush was logged as a change"; exit 1; }

# The control: without the command's setting the recorder logs the flush as a change.
(cd "$COLLECTION_ROOT" && ansible-playbook playbooks/flush_outbox.yml) > "$WORK/logged.log" 2>&1 \
    || { cat "$WORK/logged.log"; exit 1; }
[ "$(changes)" -eq 2 ] || { cat "$WORK/logged.log"; echo "the recorder was not on"; exit 1; }

# The secrets sweep every target runs under (setup_collection/secret_sweep.sh) fails a target whose run shows a
# secret it knows: here one the task prints, at the sweep's -vvvv.
rc=0
(set +x; bash -c 'source "$1/collection.sh"; make_workdir sweep_self_test; sweep_secret planted-sweep-secret
    ansible -i localhost, -c local localhost -m ansible.builtin.debug -a "msg=shown" > "${WORK}/clean.log" 2>&1
    ansible -i localhost, -c local localhost -m ansible.builtin.debug -a "msg=planted-sweep-secret" > /dev/null 2>&1' \
    _ "$(cd ../setup_collection && pwd)") > "$WORK/sweep.log" 2>&1 || rc=$?
# (found in both places it searches for output: ansible's log, and the copy of what the command printed)
if [ "$rc" -ne 1 ] || ! grep -q "ansible.log:.*<SECRET>" "$WORK/sweep.log" || ! grep -q "console\.[^:]*:.*<SECRET>" "$WORK/sweep.log"; then
    cat "$WORK/sweep.log"; echo "the secrets sweep missed a secret a task printed"; exit 1
fi
! grep -q "planted-sweep-secret" "$WORK/sweep.log" || { cat "$WORK/sweep.log"; echo "the sweep showed the secret"; exit 1; }
rm -rf "$(sed -n "s/^(the sweep's files: \(.*\))$/\1/p" "$WORK/sweep.log")"  # kept by a failed sweep, for a look
