//! The rig image's base, read from a machine's own apt sources (layer 1: runs
//! `fixtures/images/rig-base.sh` against sample `/etc/apt` trees): Debian machines bootstrap
//! bookworm from their Debian mirror; Ubuntu machines (GitHub's ubuntu-24.04 runners) their own
//! release from their Ubuntu archive, one-line and deb822 alike. (Only the detection runs
//! here: bootstrapping Ubuntu itself needs an Ubuntu machine, which CI is.)

use std::path::Path;
use std::process::Command;

fn base(files: &[(&str, &str)], env: &[(&str, &str)]) -> (Option<i32>, String, String) {
    let root = tempfile::tempdir().unwrap();
    for (path, text) in files {
        let full = root.path().join(path);
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        std::fs::write(full, text).unwrap();
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/images/rig-base.sh");
    let mut cmd = Command::new("bash");
    cmd.arg(script)
        .env("APT_ROOT", root.path())
        .env_remove("HARNESS_DEBIAN_MIRROR")
        .env_remove("HARNESS_RIG_MIRROR")
        .env_remove("HARNESS_RIG_SUITE");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).trim().to_string(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn debian_machines_bootstrap_bookworm_from_their_debian_mirror() {
    let one_line = [(
        "etc/apt/sources.list",
        "# comment\ndeb http://mirror.example/debian bookworm main\ndeb http://mirror.example/debian-security bookworm-security main\n",
    )];
    assert_eq!(
        base(&one_line, &[]).1,
        "debian bookworm http://mirror.example/debian main"
    );
    let deb822 = [(
        "etc/apt/sources.list.d/debian.sources",
        "Types: deb\nURIs: http://mirror.example/debian/\nSuites: bookworm bookworm-updates\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n",
    )];
    assert_eq!(
        base(&deb822, &[]).1,
        "debian bookworm http://mirror.example/debian/ main"
    );
}

#[test]
fn ubuntu_machines_bootstrap_their_own_release_from_their_ubuntu_archive() {
    let noble = [
        (
            "etc/apt/sources.list.d/ubuntu.sources",
            "Types: deb\nURIs: http://archive.example/ubuntu/\nSuites: noble noble-updates noble-backports\nComponents: main universe restricted multiverse\nSigned-By: /usr/share/keyrings/ubuntu-archive-keyring.gpg\n\nTypes: deb\nURIs: http://security.example/ubuntu/\nSuites: noble-security\nComponents: main universe restricted multiverse\n",
        ),
        (
            "etc/os-release",
            "NAME=\"Ubuntu\"\nVERSION_ID=\"24.04\"\nVERSION_CODENAME=noble\n",
        ),
    ];
    assert_eq!(
        base(&noble, &[]).1,
        "ubuntu noble http://archive.example/ubuntu/ main,universe"
    );
    let jammy = [
        (
            "etc/apt/sources.list",
            "deb [arch=amd64 signed-by=/x.gpg] http://archive.example/ubuntu jammy main restricted\n",
        ),
        ("etc/os-release", "VERSION_CODENAME=jammy\n"),
    ];
    assert_eq!(
        base(&jammy, &[]).1,
        "ubuntu jammy http://archive.example/ubuntu main,universe"
    );
}

#[test]
fn no_archive_is_a_clear_error_and_the_overrides_win() {
    let (code, _, stderr) = base(&[("etc/apt/sources.list", "# nothing\n")], &[]);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("set HARNESS_DEBIAN_MIRROR"), "{stderr}");
    assert_eq!(
        base(
            &[],
            &[("HARNESS_DEBIAN_MIRROR", "http://mirror.example/debian")]
        )
        .1,
        "debian bookworm http://mirror.example/debian main"
    );
    assert_eq!(
        base(
            &[],
            &[
                ("HARNESS_RIG_MIRROR", "http://archive.example/ubuntu"),
                ("HARNESS_RIG_SUITE", "noble")
            ]
        )
        .1,
        "custom noble http://archive.example/ubuntu main,universe"
    );
}
