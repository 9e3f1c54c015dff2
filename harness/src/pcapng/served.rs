//! `serve --pcap`: a pcapng file written while cards are served, packet by packet, so a long
//! serve never holds its traffic in memory. Each slot gets an air interface (link type 264:
//! activation, blocks, the field switching) and an APDU interface (252); times are the reader
//! model's, counted from the moment serve started (with `--pace realtime` they follow the wall
//! clock; at `fast` pace an exchange takes its modelled time in the file, less in reality).
//! Secrets stay out as in a run's capture ([`super::tap`]).

use super::block::{self, Way, linktype};
use super::pdu::{self, ApduWay};
use super::tap::{air_packets, redact_command, redact_response};
use kazasu_sim::reader::Direction;
use kazasu_sim::vpcd::{Reply, Request, Slot, SlotCard};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

/// The file, shared by the slots' links.
pub struct LiveFile {
    path: PathBuf,
    out: Mutex<(std::io::BufWriter<std::fs::File>, Option<std::io::Error>)>,
}

/// Nanoseconds since 1970 now.
fn wall_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

impl LiveFile {
    /// Creates `path` with an air and an APDU interface for each of `slots` (slot number,
    /// reader name): slot i's are interfaces 2i and 2i + 1.
    pub fn create(
        path: &Path,
        application: &str,
        slots: &[(u16, String)],
    ) -> std::io::Result<Arc<LiveFile>> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
        out.write_all(&block::section_header(application))?;
        for (slot, reader) in slots {
            out.write_all(&block::interface(
                linktype::ISO_14443,
                &format!("slot {slot} air"),
                reader,
            ))?;
            out.write_all(&block::interface(
                linktype::WIRESHARK_UPPER_PDU,
                &format!("slot {slot} apdu"),
                reader,
            ))?;
        }
        out.flush()?;
        Ok(Arc::new(LiveFile {
            path: path.to_path_buf(),
            out: Mutex::new((out, None)),
        }))
    }

    fn write(&self, iface: u32, ts_ns: u64, data: &[u8], way: Option<Way>, comment: Option<&str>) {
        let mut guard = self.out.lock().expect("pcap lock");
        let (out, failed) = &mut *guard;
        if failed.is_none()
            && let Err(e) = out.write_all(&block::packet(iface, ts_ns, data, way, comment))
        {
            *failed = Some(e);
        }
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Flushes the file; the first write error, if any.
    pub fn finish(&self) -> std::io::Result<()> {
        let mut guard = self.out.lock().expect("pcap lock");
        let (out, failed) = &mut *guard;
        if let Some(e) = failed.take() {
            return Err(e);
        }
        out.flush()
    }
}

/// What a served slot's listening post needs.
struct Listening {
    file: Arc<LiveFile>,
    /// When serve started, ns since 1970: the reader model's time 0.
    start: u64,
    air: u32,
    apdu: u32,
    secrets: Vec<Vec<u8>>,
}

/// A served slot, listened to when serve writes a capture.
pub struct ServedSlot {
    /// The slot: the reader model and its card.
    pub slot: Slot,
    listening: Option<Listening>,
}

impl ServedSlot {
    /// A slot served without a capture.
    pub fn new(slot: Slot) -> ServedSlot {
        ServedSlot {
            slot,
            listening: None,
        }
    }

    /// A slot whose traffic goes to `file` as the `index`-th slot of it; `secrets` (the
    /// identity's PINs) never reach it.
    pub fn listened(
        mut slot: Slot,
        file: Arc<LiveFile>,
        index: u32,
        secrets: Vec<Vec<u8>>,
    ) -> ServedSlot {
        slot.reader.keep_air();
        let listening = Listening {
            file,
            start: wall_ns(),
            air: 2 * index,
            apdu: 2 * index + 1,
            secrets,
        };
        ServedSlot {
            slot,
            listening: Some(listening),
        }
    }

    /// Writes the air since the last call.
    fn air(&mut self, patches: &[(Direction, &[u8], &[u8])]) {
        let Some(l) = &self.listening else {
            return;
        };
        for (at, data, way, note) in air_packets(self.slot.reader.take_air(), patches) {
            l.file
                .write(l.air, l.start + at.as_nanos(), &data, way, note.as_deref());
        }
    }
}

impl SlotCard for ServedSlot {
    fn connected(&mut self) -> Result<(), kazasu_sim::LinkError> {
        let r = self.slot.connected();
        self.air(&[]);
        r
    }
    fn disconnected(&mut self) {
        self.slot.disconnected();
        self.air(&[]);
    }
    fn handle(&mut self, request: &Request) -> Reply {
        let Some(l) = &self.listening else {
            return self.slot.handle(request);
        };
        let Request::Apdu(apdu) = request else {
            let reply = self.slot.handle(request);
            self.air(&[]);
            return reply;
        };
        let (file, iface, start, secrets) = (l.file.clone(), l.apdu, l.start, l.secrets.clone());
        let command = redact_command(apdu, &secrets);
        let sent = start + self.slot.reader.now().as_nanos();
        file.write(
            iface,
            sent,
            &pdu::apdu(ApduWay::Command, &command),
            Some(Way::Outbound),
            None,
        );
        let reply = self.slot.handle(request);
        // The response as vpcd frames it: a 2-byte length, then the bytes.
        let response = match &reply {
            Reply::Send { frame, .. } => frame.get(2..).unwrap_or_default().to_vec(),
            _ => Vec::new(),
        };
        let redacted = redact_response(&response, &secrets);
        self.air(&[
            (Direction::ToCard, apdu, &command),
            (Direction::ToReader, &response, &redacted),
        ]);
        if !response.is_empty() {
            let answered = start + self.slot.reader.now().as_nanos();
            let packet = pdu::apdu(ApduWay::Response, &redacted);
            file.write(iface, answered, &packet, Some(Way::Inbound), None);
        }
        reply
    }
    fn stays_away(&self) -> bool {
        self.slot.lost
    }
}
