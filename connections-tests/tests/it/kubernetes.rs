//! A secrets directory as Kubernetes mounts a Secret: each key a symlink
//! into the hidden `..data`, itself a symlink to a hidden timestamped
//! folder; an update writes a new folder, swaps `..data` atomically by a
//! rename, and deletes the old folder. The hidden entries are never read as
//! keys, each swap is seen by the watcher (events and polling), and the
//! watch survives the deletion of the folder it first read.

use std::fs;
use std::os::unix::fs::symlink;
use std::path::Path;

use connections::Registry;
use connections::prelude::*;

use crate::common::{Counted, wait_until};
use crate::reload::watching;

/// A Secret's volume at `mount`, with `keys`, as the kubelet writes its
/// first version: `..<stamp>/<key>`, `..data -> ..<stamp>`, `<key> -> ..data/<key>`.
fn mount_secret(mount: &Path, stamp: &str, keys: &[(&str, &str)]) {
    fs::create_dir_all(mount).unwrap();
    let folder = mount.join(format!("..{stamp}"));
    fs::create_dir(&folder).unwrap();
    for (key, value) in keys {
        fs::write(folder.join(key), value).unwrap();
    }
    symlink(format!("..{stamp}"), mount.join("..data")).unwrap();
    for (key, _) in keys {
        symlink(format!("..data/{key}"), mount.join(key)).unwrap();
    }
}

/// An update as the kubelet makes it: a new timestamped folder, `..data`
/// swapped to it by an atomic rename, the old folder deleted.
fn update_secret(mount: &Path, old: &str, new: &str, keys: &[(&str, &str)]) {
    let folder = mount.join(format!("..{new}"));
    fs::create_dir(&folder).unwrap();
    for (key, value) in keys {
        fs::write(folder.join(key), value).unwrap();
    }
    symlink(format!("..{new}"), mount.join("..data_tmp")).unwrap();
    fs::rename(mount.join("..data_tmp"), mount.join("..data")).unwrap();
    fs::remove_dir_all(mount.join(format!("..{old}"))).unwrap();
}

fn a_mounted_secret_is_read_and_each_swap_is_seen(name: &str, poll: bool) {
    let dir = tempfile::tempdir().unwrap();
    // `[connections.<name>]` is the Secret mounted at `<dir>/connections/<name>`.
    let mount = dir.path().join("connections").join(name);
    mount_secret(
        &mount,
        "2026_12_03_09_00_00.000000001",
        &[("type", "counted"), ("text", "one\n")],
    );
    let registry = watching(dir.path(), poll);
    let conn = registry.connection::<Counted>(name).unwrap();
    assert_eq!(
        conn.config().get::<String>("text").unwrap(),
        "one",
        "the value, trimmed"
    );
    let keys: Vec<String> = conn.config().keys().map(str::to_owned).collect();
    assert_eq!(keys, ["text", "type"], "no hidden entry is a key");
    conn.instance().unwrap();

    // Two updates: the second comes after the folder first read is gone.
    for (old, new, text) in [
        ("2026_12_03_09_00_00.000000001", "2026_12_03_09_05_00.000000002", "two"),
        (
            "2026_12_03_09_05_00.000000002",
            "2026_12_03_09_10_00.000000003",
            "three",
        ),
    ] {
        update_secret(&mount, old, new, &[("type", "counted"), ("text", text)]);
        wait_until(&format!("the swap to `{text}` is seen"), || {
            conn.config().get::<String>("text").unwrap() == text
        });
        assert_eq!(conn.instance().unwrap().text.as_deref(), Some(text));
    }
    assert_eq!(conn.generation(), 2, "one reset per update");
}

#[test]
fn a_mounted_secret_is_read_and_each_swap_is_seen_by_events() {
    a_mounted_secret_is_read_and_each_swap_is_seen("k8s_events", false);
}

#[test]
fn a_mounted_secret_is_read_and_each_swap_is_seen_by_polling() {
    a_mounted_secret_is_read_and_each_swap_is_seen("k8s_poll", true);
}

/// `source` bind-mounted over `target`, unmounted when dropped; `None`
/// where this process may not mount (not root, no `mount`).
struct BindMount(std::path::PathBuf);

impl BindMount {
    fn new(source: &Path, target: &Path) -> Option<BindMount> {
        let mounted = std::process::Command::new("mount")
            .arg("--bind")
            .arg(source)
            .arg(target)
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|status| status.success());
        mounted.then(|| BindMount(target.to_path_buf()))
    }
}

impl Drop for BindMount {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn a_secrets_file_mounted_on_its_own_is_a_warning_that_says_it_never_updates() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    // What a `subPath` mount does: one file of the Secret's folder mounted over the app's path.
    let source = dir.path().join("secret-volume.toml");
    fs::write(&source, "[connections.k8s_subpath]\ntype = 'counted'\ntext = 'one'\n").unwrap();
    let app = dir.path().join("app");
    fs::create_dir(&app).unwrap();
    let target = app.join("secrets.toml");
    fs::write(&target, "").unwrap();
    for file in [&source, &target] {
        fs::set_permissions(file, fs::Permissions::from_mode(0o600)).unwrap();
    }
    let Some(_mount) = BindMount::new(&source, &target) else {
        println!("skipped: this process cannot bind-mount a file (it needs root and `mount`)");
        return;
    };
    let registry = Registry::builder().secrets_paths([&target]).build();
    let conn = registry.connection::<Counted>("k8s_subpath").unwrap();
    assert_eq!(
        conn.config().get::<String>("text").unwrap(),
        "one",
        "read through the mount"
    );
    let found = registry.diagnostics();
    println!("{found:?}");
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].kind, connections::DiagnosticKind::FrozenMount);
    assert_eq!(found[0].origin.as_deref(), Some(target.as_path()));
    assert!(found[0].message.contains("never updated"), "{}", found[0]);

    // The same file read where it lies, not mounted: no warning.
    let registry = Registry::builder().secrets_paths([&source]).build();
    assert!(registry.diagnostics().is_empty());
}
