//! Reloading secrets: by hand (`reload_secrets`) and by the watcher (file-system
//! events, and forced polling). Only connections whose configuration changed
//! reset; a bad edit keeps the last good secrets and logs one error.
//!
//! Connection names start with `rl_` and are unique per test, so connect
//! counts (`common::connects`) never mix.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use connections::prelude::*;
use connections::{Registry, RegistryBuilder};

use crate::common::{Counted, LogCapture, connects, wait_until};

/// Two `counted` sections, `<prefix>_a` (with `text`) and `<prefix>_b`.
fn two_sections(prefix: &str, text: &str) -> String {
    format!(
        "[connections.{prefix}_a]\ntype = 'counted'\ntext = '{text}'\n[connections.{prefix}_b]\ntype = 'counted'\ntext = 'steady'\n"
    )
}

fn secrets_file(dir: &Path, toml: &str) -> PathBuf {
    let file = dir.join("secrets.toml");
    fs::write(&file, toml).unwrap();
    file
}

/// The text the connection's current instance was connected with.
fn text_of(conn: &Counted) -> String {
    conn.instance().unwrap().text.clone().unwrap_or_default()
}

/// Connects `<prefix>_a` and `<prefix>_b` and checks each connected once.
fn connect_both(reg: &Registry, prefix: &str) -> (Arc<Counted>, Arc<Counted>) {
    let a = reg.connection::<Counted>(&format!("{prefix}_a")).unwrap();
    let b = reg.connection::<Counted>(&format!("{prefix}_b")).unwrap();
    a.instance().unwrap();
    b.instance().unwrap();
    assert_eq!(
        (connects(&format!("{prefix}_a")), connects(&format!("{prefix}_b"))),
        (1, 1)
    );
    (a, b)
}

/// After a watcher's reload: `b` was not reset, `a` reset once and now
/// connects with `text`. A manual reload first, so the watcher's reload has
/// finished (they are serialised) and finds nothing left to change.
fn assert_only_a_reset(reg: &Registry, prefix: &str, a: &Counted, b: &Counted, text: &str) {
    assert!(reg.reload_secrets().unwrap().reset().is_empty());
    assert_eq!(a.generation(), 1, "one save, one reset");
    assert_eq!(text_of(a), text);
    assert_eq!(connects(&format!("{prefix}_a")), 2);
    assert_eq!(b.generation(), 0, "an unchanged section is not reset");
    assert!(b.is_connected());
    assert_eq!(connects(&format!("{prefix}_b")), 1);
}

#[test]
fn a_manual_reload_resets_only_the_connections_whose_section_changed() {
    let dir = tempfile::tempdir().unwrap();
    let file = secrets_file(dir.path(), &two_sections("rl_manual", "one"));
    let reg = Registry::builder().secrets_paths([&file]).build();
    let (a, b) = connect_both(&reg, "rl_manual");
    let b_instance = b.instance().unwrap();

    // Nothing changed: nothing is reset.
    let same = reg.reload_secrets().unwrap();
    assert!(!same.changed());
    assert!(same.reset().is_empty());

    fs::write(&file, two_sections("rl_manual", "two")).unwrap();
    let reloaded = reg.reload_secrets().unwrap();
    assert!(reloaded.changed());
    assert_eq!(reloaded.reset(), ["rl_manual_a"]);

    // The old handle reconnects with the new value, once.
    assert!(!a.is_connected());
    assert_eq!(text_of(&a), "two");
    assert_eq!(a.config().get::<String>("text").unwrap(), "two");
    assert_eq!(connects("rl_manual_a"), 2);
    // The next lookup is the same (cached) connection, with the new config.
    assert!(Arc::ptr_eq(&a, &reg.connection::<Counted>("rl_manual_a").unwrap()));
    let dynamic = reg.connection_dyn("rl_manual_a").unwrap();
    assert_eq!(dynamic.config().get::<String>("text").unwrap(), "two");

    // b: same instance, no connect.
    assert!(Arc::ptr_eq(&b_instance, &b.instance().unwrap()));
    assert_eq!((b.generation(), connects("rl_manual_b")), (0, 1));
}

#[test]
fn a_reload_keeps_the_call_site_kwargs_over_the_new_section() {
    let dir = tempfile::tempdir().unwrap();
    let section = |text: &str, port: u16| format!("[connections.rl_kw]\ntext = '{text}'\nport = {port}\n");
    let file = secrets_file(dir.path(), &section("file", 1));
    let reg = Registry::builder().secrets_paths([&file]).build();
    let kw = reg.lookup("rl_kw").kwarg("text", "kwarg").get::<Counted>().unwrap();
    assert_eq!(text_of(&kw), "kwarg");

    // Only a key the kwarg overrides changed: the connection's config did not.
    fs::write(&file, section("file, edited", 1)).unwrap();
    assert!(reg.reload_secrets().unwrap().reset().is_empty());
    assert_eq!(kw.generation(), 0);

    // Another key changed: reset, and the kwarg still wins.
    fs::write(&file, section("file, edited", 2)).unwrap();
    assert_eq!(reg.reload_secrets().unwrap().reset(), ["rl_kw"]);
    assert_eq!(text_of(&kw), "kwarg");
    assert_eq!(kw.config().get::<u16>("port").unwrap(), 2);
    assert_eq!(connects("rl_kw"), 2);
}

#[test]
#[ignore = "run by environment_overrides_still_apply_after_a_reload in a child process"]
fn child_reloads_under_environment_overrides() {
    let Some(dir) = std::env::var_os("CONNECTIONS_TEST_DIR") else {
        return;
    };
    let file = Path::new(&dir).join("secrets.toml");
    let reg = Registry::builder().secrets_paths([&file]).build();
    let conn = reg.connection::<Counted>("rl_env").unwrap();
    assert_eq!(text_of(&conn), "from the environment");

    // The file's `text` changed, but the variable overrides it: no change, no reset.
    fs::write(&file, "[connections.rl_env]\ntext = 'file, edited'\nport = 1\n").unwrap();
    assert!(reg.reload_secrets().unwrap().reset().is_empty());
    // Another key changed: reset, and the variable still applies.
    fs::write(&file, "[connections.rl_env]\ntext = 'file, edited'\nport = 2\n").unwrap();
    assert_eq!(reg.reload_secrets().unwrap().reset(), ["rl_env"]);
    assert_eq!(text_of(&conn), "from the environment");
    assert_eq!(conn.config().get::<u16>("port").unwrap(), 2);
    println!("{}", crate::common::CHILD_CHECKED);
}

#[test]
fn environment_overrides_still_apply_after_a_reload() {
    let dir = tempfile::tempdir().unwrap();
    secrets_file(dir.path(), "[connections.rl_env]\ntext = 'file'\nport = 1\n");
    crate::common::run_in_child(
        "reload::child_reloads_under_environment_overrides",
        &[
            ("CONNECTIONS_TEST_DIR", dir.path().as_os_str()),
            ("CONNECTIONS__RL_ENV__TEXT", "from the environment".as_ref()),
        ],
    );
}

#[test]
fn a_removed_section_leaves_a_live_connection_with_its_kwargs_only() {
    let dir = tempfile::tempdir().unwrap();
    let file = secrets_file(dir.path(), "[connections.rl_gone]\ntext = 'here'\nport = 1\n");
    let reg = Registry::builder().secrets_paths([&file]).build();
    let conn = reg.lookup("rl_gone").kwarg("mode", "fast").get::<Counted>().unwrap();
    conn.instance().unwrap();
    fs::write(&file, "").unwrap();
    assert_eq!(reg.reload_secrets().unwrap().reset(), ["rl_gone"]);
    assert_eq!(conn.config().keys().collect::<Vec<_>>(), ["mode"]);
    assert_eq!(conn.config().section_file(), None);
    assert_eq!(text_of(&conn), "");
}

#[test]
fn an_async_connection_reconnects_with_the_new_config() {
    #[derive(Connection)]
    #[connection(type_name = "rl-async", async)]
    struct Remote {
        base: BaseConnection<String>,
    }
    impl Remote {
        // The derive's async signature; this connect has nothing to await.
        #[allow(clippy::unused_async)]
        async fn _connect(&self, config: &Config) -> Result<String, BoxError> {
            Ok(config.get("text")?)
        }
    }

    let dir = tempfile::tempdir().unwrap();
    let file = secrets_file(dir.path(), "[connections.rl_async]\ntext = 'one'\n");
    let reg = Registry::builder().secrets_paths([&file]).build();
    let remote = reg.connection::<Remote>("rl_async").unwrap();
    assert_eq!(*futures_executor::block_on(remote.instance()).unwrap(), "one");
    fs::write(&file, "[connections.rl_async]\ntext = 'two'\n").unwrap();
    assert_eq!(reg.reload_secrets().unwrap().reset(), ["rl_async"]);
    assert_eq!(*futures_executor::block_on(remote.instance()).unwrap(), "two");
}

#[test]
fn a_connection_in_a_ttl_cache_is_reloaded_too() {
    let dir = tempfile::tempdir().unwrap();
    let file = secrets_file(dir.path(), "[connections.rl_ttl]\ntext = 'one'\n");
    let reg = Registry::builder().secrets_paths([&file]).build();
    let conn = reg
        .lookup("rl_ttl")
        .ttl(Duration::from_mins(10))
        .max_entries(4)
        .get::<Counted>()
        .unwrap();
    assert_eq!(text_of(&conn), "one");
    fs::write(&file, "[connections.rl_ttl]\ntext = 'two'\n").unwrap();
    assert_eq!(reg.reload_secrets().unwrap().reset(), ["rl_ttl"]);
    assert_eq!(text_of(&conn), "two");
}

/// A registry watching `file` (or a secrets directory), by events or by
/// polling every 10 ms, with a short debounce so the tests run quickly.
pub(crate) fn watching(file: &Path, poll: bool) -> Registry {
    let builder: RegistryBuilder = Registry::builder()
        .secrets_paths([file])
        .watch(true)
        .watch_debounce(Duration::from_millis(30));
    let reg = if poll {
        builder.watch_poll_interval(Duration::from_millis(10)).build()
    } else {
        builder.build()
    };
    assert!(reg.is_watching());
    reg
}

fn the_watcher_resets_only_the_changed_section(prefix: &str, poll: bool) {
    let dir = tempfile::tempdir().unwrap();
    let file = secrets_file(dir.path(), &two_sections(prefix, "one"));
    let reg = watching(&file, poll);
    let (a, b) = connect_both(&reg, prefix);

    fs::write(&file, two_sections(prefix, "two")).unwrap();
    wait_until("the edit is picked up", || {
        a.config().get::<String>("text").unwrap() == "two"
    });
    assert_only_a_reset(&reg, prefix, &a, &b, "two");
}

#[test]
fn the_event_watcher_resets_only_the_changed_section() {
    the_watcher_resets_only_the_changed_section("rl_events", false);
}

#[test]
fn the_polling_watcher_resets_only_the_changed_section() {
    the_watcher_resets_only_the_changed_section("rl_poll", true);
}

#[test]
fn the_event_watcher_sees_an_editor_save_by_rename() {
    let dir = tempfile::tempdir().unwrap();
    let file = secrets_file(dir.path(), &two_sections("rl_rename", "one"));
    let reg = watching(&file, false);
    let (a, b) = connect_both(&reg, "rl_rename");

    // As vim and most editors save: write a new file, rename it over the old.
    let tmp = dir.path().join(".secrets.toml.swp");
    fs::write(&tmp, two_sections("rl_rename", "two")).unwrap();
    fs::rename(&tmp, &file).unwrap();
    wait_until("the renamed file is picked up", || {
        a.config().get::<String>("text").unwrap() == "two"
    });
    assert_only_a_reset(&reg, "rl_rename", &a, &b, "two");
}

/// A malformed edit keeps the last good secrets and logs one error naming
/// the file and line, however many reloads it fails; the next good edit is
/// picked up.
fn a_bad_edit_keeps_the_last_good_secrets(prefix: &str, poll: bool) {
    let logs = LogCapture::default();
    let _guard = logs.set_default();
    let dir = tempfile::tempdir().unwrap();
    let file = secrets_file(dir.path(), &two_sections(prefix, "one"));
    // A second file, whose edits make the watcher reload again while the first is still bad.
    let other = dir.path().join("other.toml");
    fs::write(&other, "[unrelated]\nn = 0\n").unwrap();
    let builder = Registry::builder()
        .secrets_paths([&file, &other])
        .watch_debounce(Duration::from_millis(30));
    let reg = if poll {
        builder.watch_poll_interval(Duration::from_millis(10)).build()
    } else {
        builder.watch(true).build()
    };
    let (a, b) = connect_both(&reg, prefix);

    fs::write(
        &file,
        format!("{}[connections.{prefix}_a\n", two_sections(prefix, "s3cr3t-edit")),
    )
    .unwrap();
    let errors = || {
        logs.text()
            .lines()
            .filter(|l| l.contains("ERROR") && l.contains(&*file.to_string_lossy()))
            .count()
    };
    wait_until("the bad edit is logged", || errors() >= 1);
    let text = logs.text();
    let line = text.lines().find(|l| l.contains("ERROR")).unwrap();
    assert!(line.contains("is not valid TOML at line 7"), "names the line: {line}");
    assert!(line.contains("last good ones are kept"), "{line}");
    assert!(!text.contains("s3cr3t-edit"), "no value is logged: {text}");

    // Still bad, reloaded again for another file's edit: not logged again.
    for n in 1..=3 {
        fs::write(&other, format!("[unrelated]\nn = {n}\n")).unwrap();
        wait_until("the other file's edit is read", || {
            // Reloads fail while the first file is bad, so the secrets stay as they were.
            logs.text().matches("secrets still not reloadable").count() >= n || errors() > 1
        });
    }
    assert_eq!(errors(), 1, "one error per bad edit: {}", logs.text());
    assert_eq!(
        a.config().get::<String>("text").unwrap(),
        "one",
        "the last good secrets are kept"
    );
    assert_eq!(a.generation(), 0);
    assert_eq!(text_of(&a), "one");

    // The next good edit is picked up.
    fs::write(&file, two_sections(prefix, "fixed")).unwrap();
    wait_until("the fixed file is picked up", || {
        a.config().get::<String>("text").unwrap() == "fixed"
    });
    assert_eq!(reg.secrets().unwrap().get::<i64>("unrelated.n").unwrap(), 3);
    assert_only_a_reset(&reg, prefix, &a, &b, "fixed");
    assert_eq!(errors(), 1);
}

#[test]
fn a_bad_edit_seen_by_events_keeps_the_last_good_secrets_and_logs_once() {
    a_bad_edit_keeps_the_last_good_secrets("rl_bad_events", false);
}

#[test]
fn a_bad_edit_seen_by_polling_keeps_the_last_good_secrets_and_logs_once() {
    a_bad_edit_keeps_the_last_good_secrets("rl_bad_poll", true);
}

fn a_deleted_file_keeps_the_last_good_secrets_until_it_is_back(prefix: &str, poll: bool) {
    let logs = LogCapture::default();
    let _guard = logs.set_default();
    let dir = tempfile::tempdir().unwrap();
    let file = secrets_file(dir.path(), &two_sections(prefix, "one"));
    let reg = watching(&file, poll);
    let (a, b) = connect_both(&reg, prefix);

    fs::remove_file(&file).unwrap();
    wait_until("the deletion is noticed", || {
        logs.text().contains("was read before and is gone now")
    });
    assert!(a.is_connected() && b.is_connected());
    assert_eq!(
        reg.secrets()
            .unwrap()
            .get::<String>(&format!("connections.{prefix}_a.text"))
            .unwrap(),
        "one"
    );
    assert!(
        reg.connection_dyn(&format!("{prefix}_a")).is_ok(),
        "dynamic lookups still find the type"
    );

    fs::write(&file, two_sections(prefix, "back")).unwrap();
    wait_until("the re-created file is picked up", || {
        a.config().get::<String>("text").unwrap() == "back"
    });
    assert_only_a_reset(&reg, prefix, &a, &b, "back");
}

#[test]
fn a_deleted_file_seen_by_events_keeps_the_last_good_secrets_until_it_is_back() {
    a_deleted_file_keeps_the_last_good_secrets_until_it_is_back("rl_del_events", false);
}

#[test]
fn a_deleted_file_seen_by_polling_keeps_the_last_good_secrets_until_it_is_back() {
    a_deleted_file_keeps_the_last_good_secrets_until_it_is_back("rl_del_poll", true);
}

#[test]
fn a_file_in_a_directory_that_does_not_exist_yet_is_picked_up_when_created() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("project/.streamlit/secrets.toml");
    let reg = watching(&file, false);
    let conn = reg.connection::<Counted>("rl_late").unwrap();
    assert_eq!(text_of(&conn), "");

    fs::create_dir_all(file.parent().unwrap()).unwrap();
    fs::write(&file, "[connections.rl_late]\ntext = 'arrived'\n").unwrap();
    // Waits on the instance, not the config: a reload swaps the config in a
    // moment before it resets, and the old instance may be served meanwhile.
    wait_until("the new file is picked up", || text_of(&conn) == "arrived");
    assert_eq!(
        conn.config().get_opt::<String>("text").unwrap().as_deref(),
        Some("arrived")
    );

    // And its edits after that, through the watch on its own directory now.
    fs::write(&file, "[connections.rl_late]\ntext = 'edited'\n").unwrap();
    wait_until("the edit is picked up", || text_of(&conn) == "edited");
}

#[test]
fn a_secrets_directory_is_watched_recursively() {
    let dir = tempfile::tempdir().unwrap();
    let secrets = dir.path().join("mounted");
    let key = secrets.join("connections/rl_dir/text");
    fs::create_dir_all(key.parent().unwrap()).unwrap();
    fs::write(&key, "one\n").unwrap();
    fs::write(secrets.join("connections/rl_dir/port"), "1").unwrap();
    for poll in [false, true] {
        let reg = watching(&secrets, poll);
        let conn = reg.connection::<Counted>("rl_dir").unwrap();
        let before = text_of(&conn);
        let next = if before == "one" { "two" } else { "one" };
        fs::write(&key, format!("{next}\n")).unwrap();
        wait_until("the key file's edit is picked up", || text_of(&conn) == next);
    }
}

#[test]
#[ignore = "run by the_watcher_stops_when_its_registry_is_dropped in a child process"]
fn child_counts_watcher_threads() {
    let Some(dir) = std::env::var_os("CONNECTIONS_TEST_DIR") else {
        return;
    };
    let threads = |name: &str| {
        fs::read_dir("/proc/self/task")
            .unwrap()
            .filter_map(|task| fs::read_to_string(task.ok()?.path().join("comm")).ok())
            .filter(|comm| comm.trim() == name)
            .count()
    };
    let file = secrets_file(Path::new(&dir), "[connections.rl_drop]\ntext = 'x'\n");
    for poll in [false, true] {
        let reg = watching(&file, poll);
        // Linux shows a thread's name cut to 15 bytes; the thread names itself once running.
        wait_until("the watcher thread runs", || threads("connections-wat") == 1);
        let conn = reg.connection::<Counted>("rl_drop").unwrap();
        drop(reg);
        wait_until("the watcher thread stops", || threads("connections-wat") == 0);
        wait_until("notify's own thread stops", || threads("notify-rs inoti") == 0);
        // A handle outlives its registry, unwatched.
        assert_eq!(text_of(&conn), "x");
    }
    println!("{}", crate::common::CHILD_CHECKED);
}

#[cfg(target_os = "linux")]
#[test]
fn the_watcher_stops_when_its_registry_is_dropped() {
    let dir = tempfile::tempdir().unwrap();
    crate::common::run_in_child(
        "reload::child_counts_watcher_threads",
        &[("CONNECTIONS_TEST_DIR", dir.path().as_os_str())],
    );
}

#[test]
fn inline_secrets_are_not_watched() {
    let reg = Registry::builder().secrets_toml("s.toml", "").watch(true).build();
    assert!(!reg.is_watching(), "inline text never changes: no thread");
    assert!(
        !Registry::builder().secrets_toml("s.toml", "").build().is_watching(),
        "off by default"
    );
}

#[test]
#[ignore = "run by the_global_registry_is_set_up_from_code in a child process"]
fn child_sets_up_the_global_registry() {
    let Some(dir) = std::env::var_os("CONNECTIONS_TEST_DIR") else {
        return;
    };
    let file = secrets_file(Path::new(&dir), "[connections.rl_global]\ntext = 'one'\n");
    let global = Registry::init_global(
        Registry::builder()
            .secrets_paths([&file])
            .watch(true)
            .watch_debounce(Duration::from_millis(20)),
    )
    .unwrap();
    assert!(std::ptr::eq(global, Registry::global()));
    assert!(global.is_watching());
    // The free functions use it, and its watcher reloads what they return.
    let conn = connections::connection::<Counted>("rl_global").unwrap();
    assert_eq!(text_of(&conn), "one");
    fs::write(&file, "[connections.rl_global]\ntext = 'two'\n").unwrap();
    wait_until("the global registry reloads", || text_of(&conn) == "two");
    // Set up once: a second call is refused and changes nothing.
    let again = Registry::init_global(Registry::builder().secrets_toml("other", ""));
    assert!(matches!(again, Err(Error::GlobalInUse)), "{again:?}");
    assert!(std::ptr::eq(global, Registry::global()));
    println!("{}", crate::common::CHILD_CHECKED);
}

#[test]
fn the_global_registry_is_set_up_from_code() {
    let dir = tempfile::tempdir().unwrap();
    crate::common::run_in_child(
        "reload::child_sets_up_the_global_registry",
        &[("CONNECTIONS_TEST_DIR", dir.path().as_os_str())],
    );
}

#[test]
fn the_global_registry_cannot_be_set_up_after_its_first_use() {
    let first = Registry::global();
    let err = Registry::init_global(Registry::builder().watch(true)).unwrap_err();
    assert!(matches!(err, Error::GlobalInUse), "{err:?}");
    assert!(
        err.to_string()
            .contains("call `Registry::init_global` once, at the start of `main`, before any lookup"),
        "{err}"
    );
    assert!(std::ptr::eq(first, Registry::global()));
}
