//! `kazasu stack`: the real reading stack — pcscd with vsmartcard's vpcd readers, or with
//! kazasu's own driver (`kazasu-ifd`: one library for every slot, each on a Unix socket, cards
//! shown to pcscd as they come and go instead of at its 400 ms poll) — started and stopped from
//! the installed binary, no source tree needed. pcscd gets a reader.conf of its own (for vpcd one
//! copy of the driver per two slots: vpcd keeps its state per loaded library), runs in the
//! background with its log in the stack's folder, and `up` returns once every slot waits for a
//! card, so the next command never races it. Both drivers name the slots alike.
//!
//! The plan (which readers, which ports, the reader.conf text) is plain data with unit tests;
//! starting, waiting and stopping are the thin shell around it.

use kazasu_sim::vpcd::{BASE_PORT, MAX_SLOTS, reader_name};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Where pcscd listens for PC/SC clients (Debian's pcsc-lite).
const PCSCD_SOCKET: &str = "/run/pcscd/pcscd.comm";
/// Where Debian's vsmartcard-vpcd names its driver.
const VPCD_CONF: &str = "/etc/reader.conf.d/vpcd";

/// Why the stack cannot be started or stopped.
#[derive(Debug, thiserror::Error)]
pub enum StackError {
    /// A slot count pcscd and vpcd cannot serve.
    #[error(
        "--slots {0}: give an even number from 2 to {MAX_SLOTS} (vpcd serves two slots a reader, pcscd at most 16 readers)"
    )]
    Slots(u16),
    /// The vpcd driver is not installed.
    #[error(
        "vsmartcard's vpcd driver is not installed ({VPCD_CONF} names none): install pcscd and \
         vpcd, e.g. `apt-get install pcscd vsmartcard-vpcd` on Debian or Ubuntu, or give the \
         driver with --driver"
    )]
    NoDriver,
    /// kazasu's driver library is not where it was looked for.
    #[error(
        "kazasu's reader driver (libkazasu_ifd.so) is not beside this kazasu binary: build it \
         (`cargo build -p kazasu-ifd`, next to target/debug/kazasu) or give it with --library"
    )]
    NoKazasuDriver,
    /// pcscd is not installed.
    #[error(
        "cannot start pcscd ({0}): install it, e.g. `apt-get install pcscd` on Debian or Ubuntu"
    )]
    NoPcscd(std::io::Error),
    /// Another pcscd holds the socket without the vpcd readers.
    #[error(
        "a pcscd is already running ({PCSCD_SOCKET} answers) but without the {slots} vpcd slots: \
         stop it first (`systemctl stop pcscd.socket pcscd`, or `kazasu stack down` if kazasu \
         started it) and run `kazasu stack up` again"
    )]
    OtherPcscd {
        /// The slots asked for.
        slots: u16,
    },
    /// pcscd ended or did not open the slots in time.
    #[error("pcscd {what} within {waited:?}; its log ({}) ends with:\n{tail}", log.display())]
    NotUp {
        /// What did not happen.
        what: String,
        /// How long `up` waited.
        waited: Duration,
        /// pcscd's log.
        log: PathBuf,
        /// The log's last lines.
        tail: String,
    },
    /// A file of the stack's folder.
    #[error("{}: {source}", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// pcscd did not stop.
    #[error("pcscd {pid} did not stop: {reason}")]
    Stop {
        /// Its process id.
        pid: i32,
        /// Why.
        reason: String,
    },
}

/// What `up` is asked for.
#[derive(Clone, Debug)]
pub struct StackOptions {
    /// vpcd slots (even, 2–16).
    pub slots: u16,
    /// The stack's folder: reader.conf, the driver copies, pcscd's log and pid.
    pub dir: PathBuf,
    /// pcscd logs every APDU (`--debug --apdu`), as `kazasu import pcscd` reads it.
    pub debug: bool,
    /// Which driver pcscd loads.
    pub driver: Driver,
    /// Its library (default: vpcd's as vsmartcard-vpcd installed it; kazasu's beside the
    /// kazasu binary).
    pub library: Option<PathBuf>,
    /// How long to wait for the slots.
    pub timeout: Duration,
}

/// The reader driver pcscd loads for the slots.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Driver {
    /// kazasu's own where its library is beside the kazasu binary, vpcd otherwise.
    #[default]
    Auto,
    /// vsmartcard's vpcd (TCP ports 35963…; pcscd looks for cards every 400 ms).
    Vpcd,
    /// kazasu's own (`libkazasu_ifd.so`; Unix sockets; taps seen as they happen).
    Kazasu,
}

impl Driver {
    /// The driver `auto` stands for here (with the library `--library` gives, if any).
    pub fn chosen(self, library: Option<&Path>) -> Driver {
        match self {
            Driver::Auto if library.is_some() || kazasu_library().is_some() => Driver::Kazasu,
            Driver::Auto => Driver::Vpcd,
            d => d,
        }
    }

    /// Its name in messages.
    pub fn name(self) -> &'static str {
        match self {
            Driver::Auto => "auto",
            Driver::Vpcd => "vpcd",
            Driver::Kazasu => "kazasu-driver",
        }
    }
}

/// The library of kazasu's driver beside the running kazasu binary (where cargo builds both).
pub fn kazasu_library() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let lib = exe.parent()?.join("libkazasu_ifd.so");
    lib.is_file().then_some(lib)
}

/// The default folder of the stack: one per machine, as pcscd is.
pub fn default_dir() -> PathBuf {
    std::env::var_os("XDG_RUNTIME_DIR")
        .map(PathBuf::from)
        .filter(|d| d.is_dir())
        .unwrap_or_else(std::env::temp_dir)
        .join("kazasu-stack")
}

/// One vpcd reader of the plan: two slots on two ports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlannedReader {
    /// pcscd's friendly name.
    pub friendly_name: String,
    /// The first slot's port (the second is the next one).
    pub port: u16,
    /// The driver copy it loads.
    pub library: PathBuf,
}

impl PlannedReader {
    /// Its first slot's number (the second is the next one).
    pub fn first_slot(&self) -> u16 {
        self.port - BASE_PORT
    }
}

/// The readers for `slots` vpcd slots with driver copies in `dir`.
pub fn plan(slots: u16, dir: &Path) -> Result<Vec<PlannedReader>, StackError> {
    if !(2..=MAX_SLOTS).contains(&slots) || !slots.is_multiple_of(2) {
        return Err(StackError::Slots(slots));
    }
    Ok((0..slots / 2)
        .map(|k| PlannedReader {
            friendly_name: match k {
                0 => "Virtual PCD".to_string(),
                k => format!("Virtual PCD {k}"),
            },
            port: BASE_PORT + 2 * k,
            library: dir.join(format!("libifdvpcd-{k}.so")),
        })
        .collect())
}

/// pcscd's reader.conf for the plan with kazasu's driver: the same readers, libraries and names
/// as vpcd's (pcscd numbers the readers of one loaded library 00, 01, …; a copy a reader keeps
/// each reader's slots at `NAME 00 00` and `NAME 00 01`), each reader's two slots on their
/// sockets.
pub fn kazasu_reader_conf(readers: &[PlannedReader]) -> String {
    readers
        .iter()
        .map(|r| {
            let first = r.first_slot();
            format!(
                "FRIENDLYNAME \"{}\"\nDEVICENAME   kazasu:{}:{}\nLIBPATH      {}\n\n",
                r.friendly_name,
                crate::link::vpcd::ifd_socket(first).display(),
                crate::link::vpcd::ifd_socket(first + 1).display(),
                r.library.display()
            )
        })
        .collect()
}

/// The slots of `readers` whose kazasu-driver socket is not there yet.
fn closed_sockets(readers: &[PlannedReader]) -> Vec<u16> {
    readers
        .iter()
        .flat_map(|r| [r.first_slot(), r.first_slot() + 1])
        .filter(|n| {
            !std::fs::metadata(crate::link::vpcd::ifd_socket(*n))
                .is_ok_and(|m| std::os::unix::fs::FileTypeExt::is_socket(&m.file_type()))
        })
        .collect()
}

/// pcscd's reader.conf for the plan, in slot order (pcscd lists readers in file order).
pub fn reader_conf(readers: &[PlannedReader]) -> String {
    readers
        .iter()
        .map(|r| {
            format!(
                "FRIENDLYNAME \"{}\"\nDEVICENAME   /dev/null:{}\nLIBPATH      {}\nCHANNELID    {}\n\n",
                r.friendly_name,
                r.port,
                r.library.display(),
                r.port
            )
        })
        .collect()
}

/// The driver's path from vsmartcard-vpcd's reader.conf entry (`LIBPATH …`).
pub fn driver_in(conf: &str) -> Option<PathBuf> {
    conf.lines()
        .filter_map(|l| l.trim().strip_prefix("LIBPATH"))
        .map(|p| PathBuf::from(p.trim()))
        .find(|p| !p.as_os_str().is_empty())
}

/// The TCP ports in LISTEN state in a `/proc/net/tcp` or `tcp6` table.
pub fn listening_ports(table: &str) -> Vec<u16> {
    table
        .lines()
        .skip(1)
        .filter_map(|l| {
            let cols: Vec<&str> = l.split_whitespace().collect();
            let local = cols.get(1)?;
            (cols.get(3) == Some(&"0A"))
                .then(|| u16::from_str_radix(local.rsplit(':').next()?, 16).ok())
                .flatten()
        })
        .collect()
}

/// The vpcd ports of `readers` that do not listen yet on this machine.
fn closed_ports(readers: &[PlannedReader]) -> Vec<u16> {
    let mut open = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        if let Ok(t) = std::fs::read_to_string(table) {
            open.extend(listening_ports(&t));
        }
    }
    readers
        .iter()
        .flat_map(|r| [r.port, r.port + 1])
        .filter(|p| !open.contains(p))
        .collect()
}

/// What `up` did.
#[derive(Debug)]
pub enum Up {
    /// pcscd started; its process id, log and driver.
    Started {
        /// Process id.
        pid: u32,
        /// Its log.
        log: PathBuf,
        /// The driver it loaded.
        driver: Driver,
    },
    /// A pcscd with every slot was already running.
    AlreadyUp,
}

/// The PC/SC names of the first `slots` vpcd slots.
pub fn reader_names(slots: u16) -> Vec<String> {
    (0..slots).map(reader_name).collect()
}

fn file_error(path: &Path) -> impl FnOnce(std::io::Error) -> StackError + '_ {
    move |source| StackError::File {
        path: path.to_path_buf(),
        source,
    }
}

/// The last lines of a log.
fn tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(8)..].join("\n")
}

/// Starts pcscd with the vpcd readers and waits until every slot listens.
pub fn up(opts: &StackOptions) -> Result<Up, StackError> {
    // pcscd takes its reader.conf, and the conf its drivers, by absolute path only.
    let dir = std::path::absolute(&opts.dir).map_err(file_error(&opts.dir))?;
    let readers = plan(opts.slots, &dir)?;
    let driver = opts.driver.chosen(opts.library.as_deref());
    let closed = |readers: &[PlannedReader], driver: Driver| match driver {
        Driver::Kazasu => closed_sockets(readers),
        _ => closed_ports(readers),
    };
    if std::os::unix::net::UnixStream::connect(PCSCD_SOCKET).is_ok() {
        // A pcscd with every slot, on the driver asked for (either, when not asked).
        let up = match opts.driver {
            Driver::Auto => {
                closed(&readers, Driver::Kazasu).is_empty()
                    || closed(&readers, Driver::Vpcd).is_empty()
            }
            d => closed(&readers, d).is_empty(),
        };
        return if up {
            Ok(Up::AlreadyUp)
        } else {
            Err(StackError::OtherPcscd { slots: opts.slots })
        };
    }
    std::fs::create_dir_all(&dir).map_err(file_error(&dir))?;
    let conf_text = match driver {
        Driver::Vpcd | Driver::Auto => {
            let driver = match &opts.library {
                Some(d) => d.clone(),
                None => std::fs::read_to_string(VPCD_CONF)
                    .ok()
                    .and_then(|c| driver_in(&c))
                    .filter(|d| d.is_file())
                    .ok_or(StackError::NoDriver)?,
            };
            for r in &readers {
                std::fs::copy(&driver, &r.library).map_err(file_error(&r.library))?;
            }
            reader_conf(&readers)
        }
        Driver::Kazasu => {
            let library = match &opts.library {
                Some(l) => std::path::absolute(l).map_err(file_error(l))?,
                None => kazasu_library().ok_or(StackError::NoKazasuDriver)?,
            };
            let sockets = crate::link::vpcd::ifd_socket(0);
            let folder = sockets.parent().unwrap_or(Path::new("/tmp"));
            std::fs::create_dir_all(folder).map_err(file_error(folder))?;
            let readers: Vec<PlannedReader> = readers
                .iter()
                .map(|r| PlannedReader {
                    library: r
                        .library
                        .with_file_name(format!("libkazasu_ifd-{}.so", r.first_slot() / 2)),
                    ..r.clone()
                })
                .collect();
            for r in &readers {
                std::fs::copy(&library, &r.library).map_err(file_error(&r.library))?;
            }
            kazasu_reader_conf(&readers)
        }
    };
    let conf = dir.join("reader.conf");
    std::fs::write(&conf, conf_text).map_err(file_error(&conf))?;
    // pcscd's socket folder; pcscd says why in its log when it cannot make or use it.
    let _ = std::fs::create_dir_all("/run/pcscd");
    let log = dir.join("pcscd.log");
    let log_file = std::fs::File::create(&log).map_err(file_error(&log))?;
    let mut command = std::process::Command::new("pcscd");
    command.arg("--foreground");
    if opts.debug {
        command.args(["--debug", "--apdu"]);
    }
    command.arg("--config").arg(&conf);
    let mut child = {
        use std::os::unix::process::CommandExt;
        command
            .stdin(std::process::Stdio::null())
            .stdout(log_file.try_clone().map_err(file_error(&log))?)
            .stderr(log_file)
            // Its own process group: a Ctrl-C in the shell that ran `up` does not reach it.
            .process_group(0)
            .spawn()
            .map_err(StackError::NoPcscd)?
    };
    let pid_file = dir.join("pcscd.pid");
    std::fs::write(&pid_file, child.id().to_string()).map_err(file_error(&pid_file))?;
    let started = Instant::now();
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            let _ = std::fs::remove_file(&pid_file);
            return Err(StackError::NotUp {
                what: format!("ended ({status})"),
                waited: started.elapsed(),
                log: log.clone(),
                tail: tail(&log),
            });
        }
        let closed = closed(&readers, driver);
        // Every slot listens and PC/SC clients get an answer: the next command never races.
        if closed.is_empty() && std::os::unix::net::UnixStream::connect(PCSCD_SOCKET).is_ok() {
            return Ok(Up::Started {
                pid: child.id(),
                log,
                driver,
            });
        }
        if started.elapsed() >= opts.timeout {
            let _ = child.kill();
            let _ = child.wait();
            let _ = std::fs::remove_file(&pid_file);
            return Err(StackError::NotUp {
                what: format!(
                    "did not open vpcd ports {} (a pcscd started by the system may hold the \
                     socket: `systemctl stop pcscd.socket pcscd`)",
                    closed
                        .iter()
                        .map(u16::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                waited: opts.timeout,
                log: log.clone(),
                tail: tail(&log),
            });
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// What `down` did.
#[derive(Debug, PartialEq, Eq)]
pub enum Down {
    /// Stopped this pcscd.
    Stopped(i32),
    /// No pcscd of this stack was running.
    NotRunning,
}

/// Stops the pcscd `up` started in `dir` (by its recorded process id, only if that process is
/// still a pcscd).
pub fn down(dir: &Path) -> Result<Down, StackError> {
    use nix::sys::signal::{Signal, kill};
    use nix::unistd::Pid;
    let pid_file = dir.join("pcscd.pid");
    let Ok(text) = std::fs::read_to_string(&pid_file) else {
        return Ok(Down::NotRunning);
    };
    let Ok(pid) = text.trim().parse::<i32>() else {
        let _ = std::fs::remove_file(&pid_file);
        return Ok(Down::NotRunning);
    };
    let alive = |pid: i32| {
        std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == "pcscd")
            && !std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
                s.rsplit(')')
                    .next()
                    .is_some_and(|r| r.trim_start().starts_with('Z'))
            })
    };
    if !alive(pid) {
        let _ = std::fs::remove_file(&pid_file);
        return Ok(Down::NotRunning);
    }
    let stop = |signal| {
        kill(Pid::from_raw(pid), signal).map_err(|e| StackError::Stop {
            pid,
            reason: e.to_string(),
        })
    };
    stop(Signal::SIGTERM)?;
    let started = Instant::now();
    while alive(pid) {
        if started.elapsed() > Duration::from_secs(5) {
            stop(Signal::SIGKILL)?;
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = std::fs::remove_file(&pid_file);
    // pcscd ends without closing its drivers' channels: kazasu's driver's sockets stay behind.
    for n in 0..MAX_SLOTS {
        let _ = std::fs::remove_file(crate::link::vpcd::ifd_socket(n));
    }
    Ok(Down::Stopped(pid))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plan_gives_two_slots_a_reader_on_consecutive_ports() {
        let dir = Path::new("/tmp/s");
        let readers = plan(4, dir).unwrap();
        assert_eq!(readers.len(), 2);
        assert_eq!(readers[0].friendly_name, "Virtual PCD");
        assert_eq!(readers[1].friendly_name, "Virtual PCD 1");
        assert_eq!((readers[0].port, readers[1].port), (35963, 35965));
        assert_eq!(readers[1].library, dir.join("libifdvpcd-1.so"));
        let conf = reader_conf(&readers);
        assert!(conf.starts_with(
            "FRIENDLYNAME \"Virtual PCD\"\nDEVICENAME   /dev/null:35963\nLIBPATH      /tmp/s/libifdvpcd-0.so\nCHANNELID    35963\n"
        ), "{conf}");
        assert_eq!(
            reader_names(4),
            [
                "Virtual PCD 00 00",
                "Virtual PCD 00 01",
                "Virtual PCD 1 00 00",
                "Virtual PCD 1 00 01"
            ]
        );
        for bad in [0, 1, 3, 18] {
            assert!(matches!(plan(bad, dir), Err(StackError::Slots(n)) if n == bad));
        }
    }

    #[test]
    fn the_driver_is_read_from_vpcds_reader_conf() {
        let conf = "# vpcd\nFRIENDLYNAME \"Virtual PCD\"\nDEVICENAME /dev/null:0x8C7B\nLIBPATH      /usr/lib/pcsc/drivers/serial/libifdvpcd.so\nCHANNELID 0x8C7B\n";
        assert_eq!(
            driver_in(conf),
            Some(PathBuf::from("/usr/lib/pcsc/drivers/serial/libifdvpcd.so"))
        );
        assert_eq!(driver_in("FRIENDLYNAME x\n"), None);
    }

    #[test]
    fn listening_ports_are_read_from_the_kernels_table() {
        let table = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   \
             0: 00000000:8C7B 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0 100 0 0 10 0\n   \
             1: 0100007F:8C7C 0100007F:D431 01 00000000:00000000 00:00000000 00000000     0        0 2 1 0 20 4 30 10 -1\n";
        assert_eq!(listening_ports(table), vec![0x8C7B]);
    }
}
