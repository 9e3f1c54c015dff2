//! kazasu's pcscd reader driver: an IFD handler (pcsc-lite's driver interface, version 3) that
//! pcscd loads from a `reader.conf` entry (`LIBPATH` this library, `DEVICENAME` `kazasu:` and a
//! Unix socket's path per slot, colon-separated; `kazasu stack up --driver kazasu` writes it) and
//! that tells pcscd of a card the moment kazasu attaches or detaches it, through
//! the polling function pcscd asks drivers for — where vsmartcard's vpcd leaves pcscd to look
//! every 400 ms. A thin forwarder: each slot's socket carries vpcd's protocol to kazasu, which
//! holds the card ([`link`]); what pcscd is shown and when is [`slot`], without IO.
//!
//! The C boundary is [`ffi`]: every exported function catches panics (one crossing into
//! pcscd would abort it, and every reader with it), and only the polling function blocks, never
//! past its time-out.

pub mod ffi;
pub mod link;
pub mod slot;

use link::Link;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::thread::JoinHandle;

/// One reader pcscd opened: a link per slot, and the LUNs of its slots pcscd has open (it opens
/// and closes each slot's channel; the sockets stay until the last one closes).
#[derive(Default)]
struct Reader {
    links: Vec<(Arc<Link>, Option<JoinHandle<()>>)>,
    open: std::collections::BTreeSet<ffi::Dword>,
}

/// The readers pcscd opened, by the reader part of their LUN (its high 16 bits; the low ones
/// number the slot).
fn readers() -> MutexGuard<'static, HashMap<ffi::Dword, Reader>> {
    static READERS: OnceLock<Mutex<HashMap<ffi::Dword, Reader>>> = OnceLock::new();
    READERS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner())
}

/// The slot sockets a `DEVICENAME` names: `kazasu:` then one path per slot, separated by colons
/// (`kazasu:/run/kazasu/slot-0.sock:/run/kazasu/slot-1.sock`). pcscd takes a device name with a
/// colon as it is (without one it must be a file that exists), and splits words at commas.
pub fn slot_paths(device_name: &str) -> Vec<PathBuf> {
    device_name
        .strip_prefix("kazasu:")
        .unwrap_or(device_name)
        .split(':')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .collect()
}

/// The link of the slot `lun` names.
pub fn channel(lun: ffi::Dword) -> Option<Arc<Link>> {
    readers()
        .get(&(lun >> 16))
        .and_then(|r| r.links.get((lun & 0xFFFF) as usize))
        .map(|(l, _)| l.clone())
}

/// How many slots the reader of `lun` has.
pub fn slots(lun: ffi::Dword) -> usize {
    readers().get(&(lun >> 16)).map_or(0, |r| r.links.len())
}

/// Opens the reader of `lun` with a slot on each socket `device_name` names (pcscd opens each
/// slot of it with the same name: the first opens the sockets).
pub fn open(lun: ffi::Dword, device_name: &str) -> std::io::Result<()> {
    if let Some(r) = readers().get_mut(&(lun >> 16)) {
        r.open.insert(lun);
        return Ok(());
    }
    let paths = slot_paths(device_name);
    if paths.is_empty() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "DEVICENAME names no socket",
        ));
    }
    let mut reader = Reader::default();
    reader.open.insert(lun);
    for path in &paths {
        match Link::start(path) {
            Ok((link, thread)) => reader.links.push((link, Some(thread))),
            Err(e) => {
                shut(reader);
                return Err(e);
            }
        }
    }
    let old = readers().insert(lun >> 16, reader);
    if let Some(old) = old {
        shut(old);
    }
    Ok(())
}

fn shut(reader: Reader) {
    for (link, thread) in reader.links {
        link.close();
        link.slot.stop();
        if let Some(t) = thread {
            let _ = t.join();
        }
    }
}

/// Closes the slot `lun`; with the reader's last, its threads end and its sockets go (pcscd
/// may unload the library next).
pub fn close(lun: ffi::Dword) {
    let removed = {
        let mut readers = readers();
        let last = readers.get_mut(&(lun >> 16)).is_some_and(|r| {
            r.open.remove(&lun);
            r.open.is_empty()
        });
        if last {
            readers.remove(&(lun >> 16))
        } else {
            None
        }
    };
    if let Some(reader) = removed {
        shut(reader);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_device_name_lists_one_socket_per_slot() {
        assert_eq!(
            super::slot_paths("kazasu:/run/k/slot-0.sock:/run/k/slot-1.sock"),
            vec![
                std::path::PathBuf::from("/run/k/slot-0.sock"),
                std::path::PathBuf::from("/run/k/slot-1.sock")
            ]
        );
        assert!(super::slot_paths("kazasu:").is_empty());
    }
}
