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
