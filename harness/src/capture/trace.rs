//! Traces captured in the field, read from the formats of `docs/traces.md` into one
//! shape: the ATR, then command/response pairs with their timing, and card events (insertion,
//! removal, an exchange that got no answer or an error). A line that cannot be read is an error
//! naming its line number — never a silent skip or a guess.
//!
//! Formats: pcscd's `--debug --apdu` log (deltas in microseconds, interleaved lines, TTY colour
//! codes, syslog lines without deltas), pcsc-spy raw FIFO lines and `pcsc-spy -n` output, apdu4j /
//! GlobalPlatformPro dumps, OpenSC debug logs (`OPENSC_DEBUG=9`) and kazasu's own `serve`
//! JSONL transcripts. Captures that show several readers are narrowed to one with a reader filter.

use std::collections::HashMap;
use std::fmt;

/// The capture formats kazasu reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Tell the format from the text.
    Auto,
    /// `pcscd --foreground --debug --apdu` output.
    Pcscd,
    /// pcsc-spy raw lines (`THREAD@…`, what libpcscspy writes to its FIFO).
    PcscSpy,
    /// `pcsc-spy -n` decoded output.
    PcscSpyDecoded,
    /// apdu4j / GlobalPlatformPro APDU dump.
    Apdu4j,
    /// OpenSC debug log (`OPENSC_DEBUG=9`).
    Opensc,
    /// kazasu `serve --transcript` JSONL.
    Kazasu,
}

/// How many lines of a capture format detection reads.
const DETECT_LINES: usize = 100_000;

impl Format {
    /// The format a capture is in, from its first lines.
    pub fn detect(text: &str) -> Option<Format> {
        // A capture's first exchange may come after a long start: pcscd's debug log of a machine
        // with many readers, say, polls them all before anything is read.
        let head: Vec<&str> = text.lines().take(DETECT_LINES).collect();
        let any = |f: &dyn Fn(&str) -> bool| head.iter().any(|l| f(l));
        if any(&|l| l.trim_start().starts_with('{') && l.contains("\"event\"")) {
            Some(Format::Kazasu)
        } else if any(&|l| l.contains("@>|") || l.contains("@<|")) {
            Some(Format::PcscSpy)
        } else if any(&|l| l.starts_with(" i ") || l.starts_with(" => ")) {
            Some(Format::PcscSpyDecoded)
        } else if any(&|l| {
            l.contains("Outgoing APDU (") || (l.starts_with("P:") && l.contains("; T:"))
        }) {
            Some(Format::Opensc)
        } else if any(&|l| l.contains("APDU: ") || l.contains("Card ATR: ")) {
            Some(Format::Pcscd)
        } else if any(&|l| l.starts_with('#')) {
            Some(Format::Apdu4j)
        } else {
            None
        }
    }
}

/// How an exchange ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// A response: data ‖ SW1 SW2.
    Response(Vec<u8>),
    /// Nothing came back (a 0-byte response: the card left or the link broke).
    Nothing,
    /// The stack reported an error, e.g. `SCARD_W_REMOVED_CARD`, `SCARD_E_NOT_TRANSACTED`.
    Error(String),
}

/// What happened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum What {
    /// A command and how it ended.
    Exchange {
        /// Command APDU. When `redacted`, the data bytes are unknown (shown as zero).
        command: Vec<u8>,
        /// The capture hid the command's data (a PIN in a kazasu transcript).
        redacted: bool,
        /// The response or failure.
        outcome: Outcome,
        /// How long until the response, µs (when the format says).
        took_us: Option<u64>,
    },
    /// The card entered the field (with its ATR when the capture shows it).
    Inserted {
        /// The ATR.
        atr: Option<Vec<u8>>,
    },
    /// The card left the field.
    Removed,
}

/// One event with where it is in the capture.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceEvent {
    /// 1-based line in the capture.
    pub line: usize,
    /// When it started, µs since the start of the capture (when the format says).
    pub at_us: Option<u64>,
    /// What happened.
    pub what: What,
}

impl TraceEvent {
    /// The command, for an exchange.
    pub fn command(&self) -> Option<&[u8]> {
        match &self.what {
            What::Exchange { command, .. } => Some(command),
            _ => None,
        }
    }
}

/// A trace.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Trace {
    /// The ATR, if the capture shows one.
    pub atr: Option<Vec<u8>>,
    /// The reader the trace was taken on, if the capture names it.
    pub reader: Option<String>,
    /// Events in order.
    pub events: Vec<TraceEvent>,
}

impl Trace {
    /// The number of command/response exchanges.
    pub fn exchanges(&self) -> usize {
        self.events
            .iter()
            .filter(|e| matches!(e.what, What::Exchange { .. }))
            .count()
    }
}

/// A line that could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct ParseError {
    /// 1-based line number (0: the capture as a whole).
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

fn err(line: usize, message: impl Into<String>) -> ParseError {
    ParseError {
        line,
        message: message.into(),
    }
}

fn hex_of(text: &str, line: usize, what: &str) -> Result<Vec<u8>, ParseError> {
    decode_hex(text).ok_or_else(|| err(line, format!("{what} is not hex bytes: `{}`", text.trim())))
}

/// Hex bytes with any spaces or colons between them (`90 00`, `9000`, `3b:88`); `None` for
/// anything else or an odd number of digits.
fn decode_hex(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() / 3 + 1);
    let mut high: Option<u8> = None;
    for b in text.bytes() {
        let nibble = match b {
            b'0'..=b'9' => b - b'0',
            b'a'..=b'f' => b - b'a' + 10,
            b'A'..=b'F' => b - b'A' + 10,
            b' ' | b'\t' | b':' | b'\r' => continue,
            _ => return None,
        };
        match high.take() {
            None => high = Some(nibble),
            Some(h) => out.push(h << 4 | nibble),
        }
    }
    high.is_none().then_some(out)
}

/// Reads a capture in `format`; with `reader`, keeps only what happened on the reader whose name
/// contains it (needed when the capture shows APDUs for more than one reader).
pub fn parse(format: Format, text: &str, reader: Option<&str>) -> Result<Trace, ParseError> {
    let format = match format {
        Format::Auto => Format::detect(text).ok_or_else(|| {
            err(
                0,
                "cannot tell the capture's format; name it (pcscd, pcsc-spy, pcsc-spy-decoded, apdu4j, opensc, kazasu)",
            )
        })?,
        f => f,
    };
    let raw = match format {
        Format::Pcscd => parse_pcscd_raw(text)?,
        Format::PcscSpy => parse_spy_raw(text)?,
        Format::PcscSpyDecoded => parse_spy_decoded(text)?,
        Format::Apdu4j => parse_apdu4j_raw(text)?,
        Format::Opensc => parse_opensc_raw(text)?,
        Format::Kazasu => parse_kazasu_raw(text)?,
        Format::Auto => unreachable!("resolved above"),
    };
    raw.narrow(reader)
}

/// Reads a pcscd `--foreground --debug --apdu` log (one reader's APDUs, or fails naming them).
pub fn parse_pcscd(text: &str) -> Result<Trace, ParseError> {
    parse(Format::Pcscd, text, None)
}

/// Reads an apdu4j / GlobalPlatformPro dump.
pub fn parse_apdu4j(text: &str) -> Result<Trace, ParseError> {
    parse(Format::Apdu4j, text, None)
}

/// A trace before it is narrowed to one reader: every event with the reader it happened on.
#[derive(Default)]
struct RawTrace {
    events: Vec<(Option<String>, TraceEvent)>,
    /// ATRs by reader (`None`: the capture does not say which reader).
    atrs: Vec<(Option<String>, Vec<u8>)>,
}

impl RawTrace {
    fn push(&mut self, reader: Option<&str>, line: usize, at_us: Option<u64>, what: What) {
        self.events
            .push((reader.map(str::to_string), TraceEvent { line, at_us, what }));
    }

    fn exchange(
        &mut self,
        reader: Option<&str>,
        line: usize,
        at_us: Option<u64>,
        command: Vec<u8>,
        outcome: Outcome,
        took_us: Option<u64>,
    ) {
        self.push(
            reader,
            line,
            at_us,
            What::Exchange {
                command,
                redacted: false,
                outcome,
                took_us,
            },
        );
    }

    fn narrow(self, wanted: Option<&str>) -> Result<Trace, ParseError> {
        let matches = |r: &Option<String>| match (wanted, r) {
            (None, _) => true,
            (Some(w), Some(r)) => r.contains(w),
            (Some(_), None) => true,
        };
        // The readers that saw APDUs.
        let mut readers: Vec<(String, usize)> = Vec::new();
        for (r, e) in &self.events {
            if let (Some(r), What::Exchange { .. }) = (r, &e.what)
                && matches(&Some(r.clone()))
                && !readers.iter().any(|(x, _)| x == r)
            {
                readers.push((r.clone(), e.line));
            }
        }
        if readers.len() > 1 {
            let names: Vec<String> = readers.iter().map(|(r, _)| format!("`{r}`")).collect();
            return Err(err(
                readers[1].1,
                format!(
                    "the capture has APDUs for {} readers ({}); choose one with --reader",
                    readers.len(),
                    names.join(", ")
                ),
            ));
        }
        if let (Some(w), true) = (wanted, readers.is_empty())
            && self.events.iter().any(|(r, _)| r.is_some())
        {
            return Err(err(0, format!("no APDUs on a reader named like `{w}`")));
        }
        let reader = readers.into_iter().next().map(|(r, _)| r);
        let keep = |r: &Option<String>| r.is_none() || reader.is_none() || *r == reader;
        // The ATR: the last one for the reader seen before its first exchange, else any.
        let atr = self
            .atrs
            .iter()
            .rev()
            .find(|(r, _)| r.is_some() && *r == reader)
            .or_else(|| self.atrs.iter().rev().find(|(r, _)| r.is_none()))
            .or_else(|| {
                if reader.is_none() {
                    self.atrs.last()
                } else {
                    None
                }
            })
            .map(|(_, a)| a.clone());
        let events = self
            .events
            .into_iter()
            .filter(|(r, _)| keep(r))
            .map(|(_, e)| e)
            .collect::<Vec<TraceEvent>>();
        // A transmit without command bytes never reaches a card (PC/SC refuses it): a capture
        // showing one is cut or garbled, and replaying it would test nothing.
        if let Some(e) = events
            .iter()
            .find(|e| matches!(&e.what, What::Exchange { command, .. } if command.is_empty()))
        {
            return Err(err(
                e.line,
                "a command of 0 bytes: no host can send an empty APDU, so the capture is cut or garbled here; fix or remove the exchange",
            ));
        }
        Ok(Trace {
            atr,
            reader,
            events,
        })
    }
}

/// Removes ANSI colour sequences (pcscd on a colour terminal).
fn strip_ansi(line: &str) -> std::borrow::Cow<'_, str> {
    if !line.contains('\u{1b}') {
        return std::borrow::Cow::Borrowed(line);
    }
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' && chars.peek() == Some(&'[') {
            chars.next();
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// The text after `key` up to `until` (or the end).
fn between<'a>(text: &'a str, key: &str, until: &str) -> Option<&'a str> {
    let start = text.find(key)? + key.len();
    let rest = &text[start..];
    Some(rest.find(until).map_or(rest, |e| &rest[..e]).trim())
}

fn parse_pcscd_raw(text: &str) -> Result<RawTrace, ParseError> {
    let mut raw = RawTrace::default();
    let mut clock: u64 = 0;
    let mut timed = false;
    // (command, sent at, line, reader)
    let mut pending: Option<(Vec<u8>, u64, usize, Option<String>)> = None;
    let mut client_reader: HashMap<String, String> = HashMap::new();
    let mut connecting: Option<String> = None;
    let mut current: Option<String> = None;
    let mut atr_reader: Option<String> = None;
    for (i, raw_line) in text.lines().enumerate() {
        let n = i + 1;
        let line = strip_ansi(raw_line);
        // `%.8d message`: the delta in µs since the previous line (absent through syslog).
        let (delta, msg) = match line.split_once(' ') {
            Some((d, rest)) if d.len() == 8 && d.bytes().all(|b| b.is_ascii_digit()) => {
                (d.parse::<u64>().ok(), rest)
            }
            _ => (None, &*line),
        };
        if let Some(d) = delta {
            clock = clock.saturating_add(d);
            timed = true;
        }
        // Through syslog (no delta): `Nov 28 10:00:00 host pcscd[812]: APDU: …` or `pcscd: …`.
        let msg = match msg.find("pcscd").filter(|_| delta.is_none()) {
            Some(p) => match msg[p..].find(": ") {
                Some(c) => &msg[p + c + 2..],
                None => msg,
            },
            None => msg,
        };
        // A thread tag on colour terminals: `[140…] APDU: …`.
        let msg = msg.trim_start();
        let msg = match msg.strip_prefix('[').and_then(|m| m.split_once("] ")) {
            Some((_, rest)) => rest,
            None => msg,
        };
        let at = timed.then_some(clock);
        if let Some(h) = msg.strip_prefix("APDU: ") {
            if let Some((_, _, first, _)) = &pending {
                return Err(err(
                    n,
                    format!("a second APDU before the SW of the one on line {first}"),
                ));
            }
            pending = Some((hex_of(h, n, "the APDU")?, clock, n, current.clone()));
        } else if let Some(h) = msg
            .strip_prefix("SW: ")
            .or_else(|| (msg.trim_end() == "SW:").then_some(""))
        {
            let Some((command, sent, first, reader)) = pending.take() else {
                return Err(err(n, "an SW line without an APDU before it"));
            };
            let response = hex_of(h, n, "the SW")?;
            let outcome = if response.is_empty() {
                Outcome::Nothing
            } else if response.len() < 2 {
                return Err(err(n, "a response needs at least SW1 SW2"));
            } else {
                Outcome::Response(response)
            };
            raw.exchange(
                reader.as_deref(),
                first,
                timed.then_some(sent),
                command,
                outcome,
                timed.then_some(clock - sent),
            );
        } else if let Some(h) = msg.strip_prefix("Card ATR: ") {
            let atr = hex_of(h, n, "the ATR")?;
            raw.atrs.push((atr_reader.clone(), atr.clone()));
            // The ATR of an insertion event belongs to that event.
            if let Some((r, TraceEvent { what, .. })) = raw.events.last_mut()
                && let What::Inserted { atr: slot @ None } = what
                && *r == atr_reader
            {
                *slot = Some(atr);
            }
        } else {
            // `file.c:line:Function() text`: what pcscd says, after the function's name.
            let text = msg.split_once("() ").map_or(msg, |(_, t)| t);
            pcscd_context(
                text,
                n,
                at,
                &mut raw,
                &mut PcscdState {
                    connecting: &mut connecting,
                    client_reader: &mut client_reader,
                    current: &mut current,
                    atr_reader: &mut atr_reader,
                },
            );
            if text.starts_with("TRANSMIT for client ")
                && let Some(rv) = between(text, "rv=", " ")
                && rv != "SCARD_S_SUCCESS"
                && let Some((command, sent, first, reader)) = pending.take()
            {
                raw.exchange(
                    reader.as_deref(),
                    first,
                    timed.then_some(sent),
                    command,
                    Outcome::Error(rv.to_string()),
                    timed.then_some(clock - sent),
                );
            }
        }
        // Every other line is pcscd talking about something else: not part of the trace.
    }
    if let Some((_, _, first, _)) = pending {
        return Err(err(
            first,
            "an APDU without an SW line after it (the capture ends)",
        ));
    }
    Ok(raw)
}

/// What pcscd's context lines tell about which reader an APDU goes to.
struct PcscdState<'a> {
    /// The client whose CONNECT is in progress.
    connecting: &'a mut Option<String>,
    /// The reader each client connected to.
    client_reader: &'a mut HashMap<String, String>,
    /// The reader of the TRANSMIT in progress.
    current: &'a mut Option<String>,
    /// The reader the next `Card ATR:` line belongs to.
    atr_reader: &'a mut Option<String>,
}

/// Reads one of pcscd's context lines (`text` is what follows the function's name).
fn pcscd_context(text: &str, n: usize, at: Option<u64>, raw: &mut RawTrace, st: &mut PcscdState) {
    let word = |t: &str| t.split(' ').next().unwrap_or("").to_string();
    if let Some(client) = text.strip_prefix("Received command: TRANSMIT from client ") {
        *st.current = st.client_reader.get(client.trim_end()).cloned();
    } else if let Some(client) = text.strip_prefix("Received command: CONNECT from client ") {
        *st.connecting = Some(word(client.trim_end()));
    } else if let Some(rest) = text.strip_prefix("Attempting Connect to ") {
        let reader = rest.split(" using protocol").next().unwrap_or(rest).trim();
        if let Some(c) = st.connecting.take() {
            st.client_reader.insert(c, reader.to_string());
        }
        *st.atr_reader = Some(reader.to_string());
    } else if let Some(reader) = text.strip_prefix("Card inserted into ") {
        let reader = reader.trim();
        *st.atr_reader = Some(reader.to_string());
        raw.push(Some(reader), n, at, What::Inserted { atr: None });
    } else if let Some(reader) = text.strip_prefix("Card Removed From ") {
        raw.push(Some(reader.trim()), n, at, What::Removed);
    }
}

/// apdu4j's `24ms` or, past a second, `1s234ms`, as µs.
fn apdu4j_time(text: &str) -> Option<u64> {
    let t = text.trim().strip_suffix("ms")?;
    let (s, ms) = match t.split_once('s') {
        Some((s, ms)) => (s.parse::<u64>().ok()?, ms.parse::<u64>().ok()?),
        None => (0, t.parse::<u64>().ok()?),
    };
    Some(
        s.saturating_mul(1_000_000)
            .saturating_add(ms.saturating_mul(1000)),
    )
}

fn parse_apdu4j_raw(text: &str) -> Result<RawTrace, ParseError> {
    let mut raw = RawTrace::default();
    // `# Using READER` (apdu4j's header): the reader of every exchange after it.
    let mut reader: Option<String> = None;
    let mut pending: Option<(Vec<u8>, usize)> = None;
    let mut took: Option<u64> = None;
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        if let Some(comment) = line.strip_prefix('#') {
            let c = comment.trim();
            if let Some(h) = c.strip_prefix("ATR:") {
                raw.atrs.push((reader.clone(), hex_of(h, n, "the ATR")?));
            } else if let Some(t) = c.strip_prefix("Received in ") {
                took = apdu4j_time(t);
            } else if let Some(r) = c.strip_prefix("Using ") {
                reader = Some(r.trim().to_string());
            }
            continue;
        }
        let bytes = hex_of(line, n, "the line")?;
        match pending.take() {
            None => pending = Some((bytes, n)),
            Some((command, first)) => {
                if bytes.len() < 2 {
                    return Err(err(n, "a response needs at least SW1 SW2"));
                }
                raw.exchange(
                    reader.as_deref(),
                    first,
                    None,
                    command,
                    Outcome::Response(bytes),
                    took.take(),
                );
            }
        }
    }
    if let Some((_, at)) = pending {
        return Err(err(at, "a command without a response after it"));
    }
    Ok(raw)
}

/// A PC/SC return code as text: `SCARD_W_REMOVED_CARD` for the codes that matter to a replay.
fn scard_name(code: u32) -> String {
    match code {
        0x8010_0069 => "SCARD_W_REMOVED_CARD".into(),
        0x8010_0016 => "SCARD_E_NOT_TRANSACTED".into(),
        0x8010_000C => "SCARD_E_NO_SMARTCARD".into(),
        0x8010_0068 => "SCARD_W_RESET_CARD".into(),
        0x8010_0066 => "SCARD_W_UNRESPONSIVE_CARD".into(),
        0x8010_000A => "SCARD_E_TIMEOUT".into(),
        0x8010_0017 => "SCARD_E_READER_UNAVAILABLE".into(),
        0x8010_0009 => "SCARD_E_UNKNOWN_READER".into(),
        0x8010_0003 => "SCARD_E_INVALID_HANDLE".into(),
        0x8010_0008 => "SCARD_E_INSUFFICIENT_BUFFER".into(),
        0x8010_000F => "SCARD_E_PROTO_MISMATCH".into(),
        other => format!("0x{other:08X}"),
    }
}

/// Whether an error means the card is gone.
fn means_removal(error: &str) -> bool {
    error.contains("REMOVED") || error.contains("NO_SMARTCARD")
}

/// One call as pcsc-spy shows it: the function, its argument lines, its return code.
struct SpyCall {
    function: String,
    line: usize,
    entered_us: u64,
    args: Vec<String>,
}

fn parse_spy_raw(text: &str) -> Result<RawTrace, ParseError> {
    let mut raw = RawTrace::default();
    // Calls in progress by thread.
    let mut open: HashMap<String, SpyCall> = HashMap::new();
    let mut card_reader: HashMap<String, String> = HashMap::new();
    let mut first_us: Option<u64> = None;
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() {
            continue;
        }
        let Some((thread, body)) = line.split_once('@') else {
            return Err(err(n, "a pcsc-spy line is `THREAD@…`; this one has no `@`"));
        };
        if thread.is_empty() || !thread.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(err(n, format!("`{thread}` is not a thread id")));
        }
        let time = |sec: &str, usec: &str| -> Result<u64, ParseError> {
            let s: u64 = sec
                .parse()
                .map_err(|_| err(n, format!("`{sec}` is not seconds")))?;
            let u: u64 = usec
                .parse()
                .map_err(|_| err(n, format!("`{usec}` is not microseconds")))?;
            Ok(s.saturating_mul(1_000_000).saturating_add(u))
        };
        if let Some(entry) = body.strip_prefix(">|") {
            let parts: Vec<&str> = entry.split('|').collect();
            if parts.len() != 3 {
                return Err(err(n, "a function entry is `>|sec|usec|Function`"));
            }
            let t = time(parts[0], parts[1])?;
            first_us.get_or_insert(t);
            open.insert(
                thread.to_string(),
                SpyCall {
                    function: parts[2].to_string(),
                    line: n,
                    entered_us: t,
                    args: Vec::new(),
                },
            );
        } else if let Some(exit) = body.strip_prefix("<|") {
            let parts: Vec<&str> = exit.split('|').collect();
            // `<|sec|usec|Fn|text|0xRV` (1.9.9) or `<|sec|usec|Fn|0xRV` (2.2.0 on).
            if parts.len() < 4 {
                return Err(err(n, "a function exit is `<|sec|usec|Function|…|0xCODE`"));
            }
            let t = time(parts[0], parts[1])?;
            let code_text = parts[parts.len() - 1];
            let code = code_text
                .strip_prefix("0x")
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .ok_or_else(|| err(n, format!("`{code_text}` is not a return code")))?;
            let Some(call) = open.remove(thread) else {
                return Err(err(n, format!("{} returns but never started", parts[2])));
            };
            if call.function != parts[2] {
                return Err(err(
                    n,
                    format!(
                        "{} returns while {} (line {}) is open on this thread",
                        parts[2], call.function, call.line
                    ),
                ));
            }
            let at = call
                .entered_us
                .saturating_sub(first_us.unwrap_or(call.entered_us));
            spy_call(&mut raw, &mut card_reader, call, code, t, at)?;
        } else {
            let Some(call) = open.get_mut(thread) else {
                return Err(err(n, "an argument line outside any call"));
            };
            call.args.push(body.to_string());
        }
    }
    if let Some(call) = open.values().min_by_key(|c| c.line) {
        return Err(err(
            call.line,
            format!("{} never returns (the capture ends)", call.function),
        ));
    }
    Ok(raw)
}

/// Turns one pcsc-spy call into trace events.
fn spy_call(
    raw: &mut RawTrace,
    card_reader: &mut HashMap<String, String>,
    call: SpyCall,
    code: u32,
    exit_us: u64,
    at: u64,
) -> Result<(), ParseError> {
    let longs: Vec<&String> = call.args.iter().filter(|a| a.starts_with("0x")).collect();
    let buffers: Vec<(usize, &String)> = call
        .args
        .iter()
        .enumerate()
        .filter(|(_, a)| !a.starts_with("0x") && a.as_str() != "NULL")
        .collect();
    let line = call.line;
    match call.function.as_str() {
        "SCardConnect" => {
            // hContext, reader, share mode, protocols, (in) hCard, (in) protocol, hCard, protocol.
            if code == 0
                && let (Some(reader), Some(card)) =
                    (call.args.get(1), longs.get(longs.len().wrapping_sub(2)))
            {
                card_reader.insert((*card).clone(), reader.clone());
            }
        }
        "SCardTransmit" => {
            let card = call.args.first().cloned().unwrap_or_default();
            let reader = card_reader.get(&card).cloned();
            let Some((_, send)) = buffers.first() else {
                return Err(err(line, "SCardTransmit without a send buffer"));
            };
            let command = hex_of(send, line, "the send buffer")?;
            let took = Some(exit_us.saturating_sub(call.entered_us));
            let outcome = if code != 0 {
                Outcome::Error(scard_name(code))
            } else {
                match buffers.get(1) {
                    Some((_, r)) => {
                        let resp = hex_of(r, line, "the receive buffer")?;
                        if resp.is_empty() {
                            Outcome::Nothing
                        } else {
                            Outcome::Response(resp)
                        }
                    }
                    None => Outcome::Nothing,
                }
            };
            let removal = matches!(&outcome, Outcome::Error(e) if means_removal(e));
            raw.exchange(reader.as_deref(), line, Some(at), command, outcome, took);
            if removal {
                raw.push(reader.as_deref(), line, Some(at), What::Removed);
            }
        }
        "SCardStatus" if code == 0 => {
            // hCard, reader name(s), …, ATR buffer, ATR length: the last hex buffer is the ATR.
            let card = call.args.first().cloned().unwrap_or_default();
            if let Some((_, atr)) = buffers.iter().rev().find(|(_, b)| {
                !b.trim().is_empty() && kazasu_sim::parse_hex(b.trim()).is_ok_and(|a| a.len() >= 2)
            }) {
                raw.atrs.push((
                    card_reader.get(&card).cloned(),
                    hex_of(atr, line, "the ATR")?,
                ));
            }
        }
        "SCardReconnect" if code == 0 => {
            let card = call.args.first().cloned().unwrap_or_default();
            // dwInitialization (the 4th argument) 1 = SCARD_RESET_CARD, 2 = SCARD_UNPOWER_CARD.
            if call
                .args
                .get(3)
                .is_some_and(|a| a == "0x00000001" || a == "0x00000002")
            {
                raw.push(
                    card_reader.get(&card).map(String::as_str),
                    line,
                    Some(at),
                    What::Inserted { atr: None },
                );
            }
        }
        _ => {}
    }
    Ok(())
}

fn parse_spy_decoded(text: &str) -> Result<RawTrace, ParseError> {
    #[derive(Default)]
    struct Call {
        function: String,
        line: usize,
        card: Option<String>,
        reader: Option<String>,
        send_len: Option<usize>,
        recv_len: Option<usize>,
        send: Vec<u8>,
        recv: Vec<u8>,
        /// 'i' or 'o': which buffer the dump lines fill.
        dumping: Option<char>,
    }
    let mut raw = RawTrace::default();
    let mut call: Option<Call> = None;
    let mut card_reader: HashMap<String, String> = HashMap::new();
    let mut clock: u64 = 0;
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        // `pcsc-spy -t` puts the thread first: `(1) SCardTransmit`.
        let line = line.trim_end();
        let line = match line.strip_prefix('(').and_then(|l| l.split_once(") ")) {
            Some((t, rest)) if t.bytes().all(|b| b.is_ascii_digit()) => rest,
            _ => line,
        };
        if line.is_empty() {
            continue;
        }
        if line.starts_with("SCard") && !line.contains(' ') {
            call = Some(Call {
                function: line.to_string(),
                line: n,
                ..Call::default()
            });
            continue;
        }
        if line.starts_with("Thread ") || line.starts_with("Results sorted") {
            // The statistics at the end.
            break;
        }
        let Some(c) = call.as_mut() else {
            if line.starts_with(' ') {
                return Err(err(n, "an argument line outside any call"));
            }
            continue;
        };
        if let Some(ret) = line.strip_prefix(" => ") {
            let code = between(ret, "[0x", "]")
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .ok_or_else(|| err(n, "a result line is ` => text (NAME [0xCODE])  [seconds]`"))?;
            // The time in seconds after the result, when pcsc-spy printed one.
            let tail = ret.rsplit_once(')').map_or("", |(_, t)| t.trim());
            let took = if tail.is_empty() {
                None
            } else {
                let secs = tail
                    .strip_prefix('[')
                    .and_then(|s| s.strip_suffix(']'))
                    .and_then(|s| s.trim().parse::<f64>().ok())
                    .filter(|s| s.is_finite() && *s >= 0.0 && *s < 1e6)
                    .ok_or_else(|| {
                        err(
                            n,
                            format!(
                                "`{tail}` after the result is not a time in seconds like [0.000123]"
                            ),
                        )
                    })?;
                Some((secs * 1e6).round() as u64)
            };
            let at = clock;
            clock = clock.saturating_add(took.unwrap_or(0));
            let c = call.take().expect("a call is open");
            match c.function.as_str() {
                "SCardConnect" if code == 0 => {
                    if let (Some(card), Some(reader)) = (c.card, c.reader) {
                        card_reader.insert(card, reader);
                    }
                }
                "SCardTransmit" => {
                    let reader = c.card.as_ref().and_then(|k| card_reader.get(k)).cloned();
                    if c.send_len.is_some_and(|l| l != c.send.len()) {
                        return Err(err(
                            c.line,
                            format!(
                                "the send buffer has {} bytes, bSendLength says {}",
                                c.send.len(),
                                c.send_len.unwrap_or(0)
                            ),
                        ));
                    }
                    let outcome = if code != 0 {
                        Outcome::Error(scard_name(code))
                    } else if c.recv.is_empty() {
                        Outcome::Nothing
                    } else {
                        Outcome::Response(c.recv)
                    };
                    let removal = matches!(&outcome, Outcome::Error(e) if means_removal(e));
                    raw.exchange(reader.as_deref(), c.line, Some(at), c.send, outcome, took);
                    if removal {
                        raw.push(reader.as_deref(), c.line, Some(at), What::Removed);
                    }
                }
                _ => {}
            }
            continue;
        }
        let Some((dir, rest)) = line
            .strip_prefix(" i ")
            .map(|r| ('i', r))
            .or_else(|| line.strip_prefix(" o ").map(|r| ('o', r)))
        else {
            return Err(err(
                n,
                format!("`{line}` is not an argument line (` i …`, ` o …`) or a result (` => …`)"),
            ));
        };
        if let Some(dump) = rest.strip_prefix(' ') {
            // ` i  0000 00 A4 …   ascii`: offset, up to 16 bytes, then the bytes as text.
            let Some(which) = c.dumping.filter(|d| *d == dir) else {
                return Err(err(n, "a hex dump line without a buffer before it"));
            };
            let (buf, want) = if which == 'i' {
                (&mut c.send, c.send_len)
            } else {
                (&mut c.recv, c.recv_len)
            };
            let mut words = dump.split_whitespace();
            let offset = words.next().unwrap_or("");
            if offset.len() != 4 || !offset.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(err(n, format!("`{offset}` is not a dump offset")));
            }
            let room = want.map_or(16, |w| w.saturating_sub(buf.len()).min(16));
            for w in words.take(room) {
                match (w.len(), u8::from_str_radix(w, 16)) {
                    (2, Ok(b)) => buf.push(b),
                    _ => break,
                }
            }
            continue;
        }
        c.dumping = None;
        let number =
            |r: &str| -> Option<usize> { between(r, "(", ")").and_then(|d| d.parse().ok()) };
        if let Some(card) = rest.strip_prefix("hCard: ") {
            c.card = Some(card.trim().to_string());
        } else if let Some(card) = rest.strip_prefix("phCard ") {
            if dir == 'o' {
                c.card = card.split_whitespace().next().map(str::to_string);
            }
        } else if let Some(reader) = rest.strip_prefix("szReader ") {
            c.reader = Some(reader.trim().to_string());
        } else if rest.starts_with("bSendLength") {
            c.send_len = number(rest);
        } else if rest.starts_with("bRecvLength") {
            c.recv_len = number(rest);
        } else if rest == "bSendBuffer" || rest == "bRecvBuffer" {
            c.dumping = Some(dir);
        }
    }
    if let Some(c) = call.filter(|c| c.function == "SCardTransmit") {
        return Err(err(
            c.line,
            "SCardTransmit without a result (the capture ends)",
        ));
    }
    Ok(raw)
}

fn parse_opensc_raw(text: &str) -> Result<RawTrace, ParseError> {
    struct Dump {
        outgoing: bool,
        want: usize,
        bytes: Vec<u8>,
        line: usize,
    }
    let mut raw = RawTrace::default();
    let mut reader: Option<String> = None;
    let mut dump: Option<Dump> = None;
    // (command, line, at)
    let mut pending: Option<(Vec<u8>, usize, Option<u64>)> = None;
    let mut now_us: Option<u64> = None;
    let mut first_us: Option<u64> = None;
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        if let Some(d) = dump.as_mut() {
            if d.bytes.len() < d.want {
                let mut any = false;
                for w in line.split_whitespace() {
                    if d.bytes.len() == d.want {
                        break;
                    }
                    match (w.len(), u8::from_str_radix(w, 16)) {
                        (2, Ok(b)) => {
                            d.bytes.push(b);
                            any = true;
                        }
                        _ => break,
                    }
                }
                if !any {
                    return Err(err(
                        n,
                        format!(
                            "the APDU of line {} has {} of its {} bytes",
                            d.line,
                            d.bytes.len(),
                            d.want
                        ),
                    ));
                }
            }
            if d.bytes.len() == d.want {
                let d = dump.take().expect("a dump is open");
                if d.outgoing {
                    if let Some((_, first, _)) = &pending {
                        return Err(err(
                            d.line,
                            format!("a second outgoing APDU before the answer to line {first}"),
                        ));
                    }
                    pending = Some((d.bytes, d.line, now_us));
                } else {
                    let Some((command, first, sent)) = pending.take() else {
                        return Err(err(d.line, "an incoming APDU without an outgoing one"));
                    };
                    let at = sent.map(|s| s.saturating_sub(first_us.unwrap_or(s)));
                    let took = sent.zip(now_us).map(|(s, t)| t.saturating_sub(s));
                    let outcome = if d.bytes.is_empty() {
                        Outcome::Nothing
                    } else {
                        Outcome::Response(d.bytes)
                    };
                    raw.exchange(reader.as_deref(), first, at, command, outcome, took);
                }
            }
            continue;
        }
        // `P:1986; T:0x1398… 16:58:14.971 [tool] file.c:line:function: message`
        if line.starts_with("P:") {
            if let Some(clock) = line.split_whitespace().nth(2) {
                now_us = opensc_time(clock);
                if let Some(t) = now_us {
                    first_us.get_or_insert(t);
                }
            }
            let msg = line.split_once("] ").map_or(line, |(_, m)| m);
            if let Some(r) = between(msg, "pcsc_transmit: reader '", "'") {
                reader = Some(r.to_string());
            } else if let Some(a) = between(msg, "match_atr_table: ATR     : ", "\u{0}") {
                raw.atrs.push((None, hex_of(a, n, "the ATR")?));
            } else if let Some((command, first, sent)) = pending.take() {
                // A transmit that failed: the command never got an Incoming APDU.
                if msg.contains("transmit: returning with: -") || msg.contains("transmit failed") {
                    let why = between(msg, "(", ")").unwrap_or(msg).to_string();
                    let at = sent.map(|s| s.saturating_sub(first_us.unwrap_or(s)));
                    let removal = why.to_ascii_lowercase().contains("removed");
                    raw.exchange(
                        reader.as_deref(),
                        first,
                        at,
                        command,
                        Outcome::Error(why),
                        None,
                    );
                    if removal {
                        raw.push(reader.as_deref(), n, at, What::Removed);
                    }
                } else {
                    pending = Some((command, first, sent));
                }
            }
            continue;
        }
        for (key, outgoing) in [("Outgoing APDU (", true), ("Incoming APDU (", false)] {
            if let Some(len) = between(line, key, " bytes)") {
                let want: usize = len
                    .parse()
                    .map_err(|_| err(n, format!("`{len}` is not a byte count")))?;
                let most = if outgoing {
                    kazasu_sim::iso7816::apdu::MAX_COMMAND_LEN
                } else {
                    kazasu_sim::iso7816::apdu::MAX_RESPONSE_LEN
                };
                if want > most {
                    return Err(err(
                        n,
                        format!(
                            "an APDU of {want} bytes: no APDU is longer than {most} bytes \
                             (an extended {}); the log is damaged here",
                            if outgoing { "command" } else { "response" }
                        ),
                    ));
                }
                dump = Some(Dump {
                    outgoing,
                    want,
                    bytes: Vec::with_capacity(want),
                    line: n,
                });
            }
        }
        if let Some(d) = dump.as_ref().filter(|d| d.want == 0) {
            // A 0-byte APDU: nothing to read after it.
            let (outgoing, at_line) = (d.outgoing, d.line);
            dump = None;
            if outgoing {
                return Err(err(at_line, "an outgoing APDU of 0 bytes"));
            }
            let Some((command, first, sent)) = pending.take() else {
                return Err(err(at_line, "an incoming APDU without an outgoing one"));
            };
            let at = sent.map(|s| s.saturating_sub(first_us.unwrap_or(s)));
            raw.exchange(
                reader.as_deref(),
                first,
                at,
                command,
                Outcome::Nothing,
                None,
            );
        }
    }
    if let Some(d) = dump {
        return Err(err(
            d.line,
            format!(
                "the APDU has {} of its {} bytes (the capture ends)",
                d.bytes.len(),
                d.want
            ),
        ));
    }
    if let Some((_, first, _)) = pending {
        return Err(err(
            first,
            "an outgoing APDU without an answer (the capture ends)",
        ));
    }
    Ok(raw)
}

/// `HH:MM:SS.mmm` as µs since midnight.
fn opensc_time(clock: &str) -> Option<u64> {
    let (hms, ms) = clock.split_once('.')?;
    let mut parts = hms.split(':').map(|p| p.parse::<u64>().ok());
    let (h, m, s) = (parts.next()??, parts.next()??, parts.next()??);
    let ms: u64 = ms.parse().ok()?;
    h.checked_mul(60)?
        .checked_add(m)?
        .checked_mul(60)?
        .checked_add(s)?
        .checked_mul(1_000_000)?
        .checked_add(ms.checked_mul(1_000)?)
}

fn parse_kazasu_raw(text: &str) -> Result<RawTrace, ParseError> {
    use crate::serve::line::{ServedEvent, ServedLine};
    let mut raw = RawTrace::default();
    for (i, text_line) in text.lines().enumerate() {
        let n = i + 1;
        if text_line.trim().is_empty() {
            continue;
        }
        let l = ServedLine::parse(text_line).map_err(|e| err(n, e))?;
        let reader = kazasu_sim::vpcd::reader_name(l.slot);
        let at = (l.t_ms.is_finite() && l.t_ms >= 0.0).then_some((l.t_ms * 1000.0) as u64);
        match l.event {
            ServedEvent::CardInserted => {
                raw.push(Some(&reader), n, at, What::Inserted { atr: None })
            }
            ServedEvent::CardRemoved { .. } => raw.push(Some(&reader), n, at, What::Removed),
            ServedEvent::GetAtr { atr } => {
                if !atr.is_empty() {
                    raw.atrs.push((Some(reader), hex_of(&atr, n, "the ATR")?));
                }
            }
            ServedEvent::Apdu {
                command: command_text,
                response,
                sw,
                sim_ns,
            } => {
                if command_text.contains('…') {
                    return Err(err(
                        n,
                        "the command was shortened in this transcript; record it again with this kazasu",
                    ));
                }
                let redacted = command_text.contains("**");
                let command = hex_of(&command_text.replace("**", "00"), n, "the command")?;
                let mut response = hex_of(&response, n, "the response")?;
                let sw = hex_of(&sw, n, "the SW")?;
                let outcome = match sw.len() {
                    0 if response.is_empty() => Outcome::Nothing,
                    // An answer shorter than a status word, as the card sent it.
                    0 => Outcome::Response(response),
                    2 => {
                        response.extend_from_slice(&sw);
                        Outcome::Response(response)
                    }
                    _ => {
                        return Err(err(
                            n,
                            "`sw` must be two bytes, or empty (no answer, or one shorter than a status word)",
                        ));
                    }
                };
                raw.push(
                    Some(&reader),
                    n,
                    at,
                    What::Exchange {
                        command,
                        redacted,
                        outcome,
                        took_us: sim_ns.map(|ns| ns / 1000),
                    },
                );
            }
            // Power on/off and reset carry no APDU.
            ServedEvent::PowerOn | ServedEvent::PowerOff | ServedEvent::Reset => {}
        }
    }
    Ok(raw)
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use clap::ValueEnum;
        let v = self.to_possible_value().expect("no skipped variants");
        f.write_str(v.get_name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn exchanges(t: &Trace) -> Vec<(Vec<u8>, Outcome)> {
        t.events
            .iter()
            .filter_map(|e| match &e.what {
                What::Exchange {
                    command, outcome, ..
                } => Some((command.clone(), outcome.clone())),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn pcscd_log_from_the_reference() {
        let log = "00000005 Card ATR: 3B 95 13 81 01 80 73 FF 01 00 0B \n\
                   00000012 winscard.c:1596:SCardTransmit() Send Protocol: T=1\n\
                   00000003 APDU: 00 84 00 00 08 \n\
                   00043848 SW: 33 14 B2 61 BA 38 9B 7D 90 00 \n\
                   00000002 winscard_svc.c:694:ContextThread() TRANSMIT for client 9, rv=SCARD_S_SUCCESS\n\
                   00000003 APDU: 00 A4 04 0C 02 00 0A \n\
                   00000135 SW: \n";
        let t = parse_pcscd(log).unwrap();
        assert_eq!(
            t.atr.clone().unwrap(),
            [
                0x3B, 0x95, 0x13, 0x81, 0x01, 0x80, 0x73, 0xFF, 0x01, 0x00, 0x0B
            ]
        );
        assert_eq!(t.events.len(), 2);
        assert_eq!(t.events[0].line, 3);
        assert_eq!(t.events[0].at_us, Some(20));
        match &t.events[0].what {
            What::Exchange {
                command,
                outcome: Outcome::Response(response),
                took_us,
                ..
            } => {
                assert_eq!(command, &[0x00, 0x84, 0x00, 0x00, 0x08]);
                assert_eq!(response.len(), 10);
                assert_eq!(*took_us, Some(43848));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(exchanges(&t)[1].1, Outcome::Nothing);
    }

    #[test]
    fn pcscd_attributes_apdus_to_readers_and_sees_removals() {
        let log = "00000003 eventhandler.c:423:EHStatusHandlerThread() Card inserted into Virtual PCD 00 01\n\
                   00000005 Card ATR: 3B 8A 80 01 52 45 41 44 45 52 54 45 53 54 18 \n\
                   00000003 eventhandler.c:423:EHStatusHandlerThread() Card inserted into Virtual PCD 00 00\n\
                   00000005 Card ATR: 3B 88 80 01 00 00 05 E0 B3 81 A1 00 7F \n\
                   00000066 winscard_svc.c:361:ContextThread() Received command: CONNECT from client 12\n\
                   00000003 winscard.c:258:SCardConnect() Attempting Connect to Virtual PCD 00 00 using protocol: 3\n\
                   00000181 winscard_svc.c:361:ContextThread() Received command: TRANSMIT from client 12\n\
                   00000003 APDU: 00 A4 04 00 07 62 76 01 FF 00 00 00 \n\
                   00000117 SW: 6A 82 \n\
                   00000181 winscard_svc.c:361:ContextThread() Received command: TRANSMIT from client 12\n\
                   00000003 APDU: 00 B0 00 00 04 \n\
                   00000002 winscard_svc.c:694:ContextThread() TRANSMIT for client 12, rv=SCARD_W_REMOVED_CARD\n\
                   00000040 eventhandler.c:400:EHStatusHandlerThread() Card Removed From Virtual PCD 00 00\n";
        let t = parse_pcscd(log).unwrap();
        assert_eq!(t.reader.as_deref(), Some("Virtual PCD 00 00"));
        assert_eq!(t.atr.as_ref().unwrap().len(), 13, "the ATR of reader 00 00");
        let kinds: Vec<String> = t
            .events
            .iter()
            .map(|e| match &e.what {
                What::Inserted { atr } => format!("in {}", atr.as_ref().map_or(0, Vec::len)),
                What::Removed => "out".into(),
                What::Exchange { outcome, .. } => format!("{outcome:?}"),
            })
            .collect();
        assert_eq!(
            kinds,
            [
                "in 13",
                "Response([106, 130])",
                "Error(\"SCARD_W_REMOVED_CARD\")",
                "out"
            ]
        );
    }

    #[test]
    fn two_readers_need_a_choice() {
        let log = "Received command: CONNECT from client 1 \n\
                   Attempting Connect to Reader A using protocol: 3\n\
                   Received command: CONNECT from client 2 \n\
                   Attempting Connect to Reader B using protocol: 3\n\
                   Received command: TRANSMIT from client 1 \n\
                   APDU: 00 B0 00 00 01\nSW: 90 00\n\
                   Received command: TRANSMIT from client 2 \n\
                   APDU: 00 B0 00 00 02\nSW: 90 00\n";
        let e = parse(Format::Pcscd, log, None).unwrap_err();
        assert_eq!(e.line, 9, "{e}");
        assert!(e.message.contains("--reader"), "{e}");
        let t = parse(Format::Pcscd, log, Some("B")).unwrap();
        assert_eq!(exchanges(&t)[0].0, [0x00, 0xB0, 0x00, 0x00, 0x02]);
        assert!(parse(Format::Pcscd, log, Some("C")).is_err());
    }

    #[test]
    fn colour_codes_and_syslog_lines() {
        let tty = "00000003 \u{1b}[32m[140234] APDU: 00 B0 00 00 04 \u{1b}[0m\n00000100 \u{1b}[32m[140234] SW: 30 82 03 65 90 00 \u{1b}[0m\n";
        let t = parse_pcscd(tty).unwrap();
        assert_eq!(t.events.len(), 1);
        let syslog = "pcscd: APDU: 00 B0 00 00 04\nAPDU: 00 B0 00 00 04\nSW: 90 00\n";
        let e = parse_pcscd(syslog).unwrap_err();
        assert_eq!(e.line, 2, "{e}");
    }

    #[test]
    fn bad_lines_are_named() {
        assert_eq!(parse_pcscd("00000001 SW: 90 00\n").unwrap_err().line, 1);
        assert_eq!(
            parse_pcscd("x\n00000001 APDU: 00 ZZ\n").unwrap_err().line,
            2
        );
        assert_eq!(
            parse_pcscd("00000001 APDU: 00 A4 00 00\n")
                .unwrap_err()
                .line,
            1
        );
        assert!(
            parse_apdu4j("# ATR: 3B 00\n00 A4 04 00\n")
                .unwrap_err()
                .message
                .contains("without a response")
        );
    }

    #[test]
    fn apdu4j_dump() {
        let dump = "# ATR: 3B 88 80 01 00 00 05 E0 B3 81 A1 00 7F\n# PROTOCOL: T=1\n#\n# Sent\n00A4040C0AD392F000260100000001\n# Received in 24ms\n9000\n";
        let t = parse_apdu4j(dump).unwrap();
        assert_eq!(t.atr.unwrap().len(), 13);
        assert_eq!(
            t.events,
            [TraceEvent {
                line: 5,
                at_us: None,
                what: What::Exchange {
                    command: kazasu_sim::parse_hex("00A4040C0AD392F000260100000001").unwrap(),
                    redacted: false,
                    outcome: Outcome::Response(vec![0x90, 0x00]),
                    took_us: Some(24_000),
                }
            }]
        );
    }

    #[test]
    fn apdu4j_header_and_long_times() {
        let dump = "# Generated on Sat, 28 Nov 2026 10:00:00 +0900 by apdu4j/20.05\n# Using Virtual PCD 00 00\n# ATR: 3B8880010000 05E0B381A1007F\n# PROTOCOL: T=1\n#\n# Sent\n00A4040C0AD392F000260100000001\n# Received in 1s234ms\n9000\n# Sent\n00B0000004\n# Received\n308203659000\n";
        assert_eq!(Format::detect(dump), Some(Format::Apdu4j));
        let t = parse_apdu4j(dump).unwrap();
        assert_eq!(t.reader.as_deref(), Some("Virtual PCD 00 00"));
        assert_eq!(t.atr.as_ref().map(Vec::len), Some(13));
        let took: Vec<Option<u64>> = t
            .events
            .iter()
            .map(|e| match e.what {
                What::Exchange { took_us, .. } => took_us,
                _ => None,
            })
            .collect();
        assert_eq!(took, [Some(1_234_000), None]);
    }

    const SPY_RAW: &str = "7FF952AC5B80@>|1795885137|382511|SCardConnect
7FF952AC5B80@0x70FCB0B0
7FF952AC5B80@Virtual PCD 00 01
7FF952AC5B80@0x00000002
7FF952AC5B80@0x00000003
7FF952AC5B80@0x00000000
7FF952AC5B80@0x00000000
7FF952AC5B80@0x678CA2E5
7FF952AC5B80@0x00000002
7FF952AC5B80@<|1795885137|382827|SCardConnect|Command successful.|0x00000000
7FF952AC5B80@>|1795885137|382885|SCardTransmit
7FF952AC5B80@0x678CA2E5
7FF952AC5B80@0x00000002
7FF952AC5B80@0x00000010
7FF952AC5B80@0x0000000B
7FF952AC5B80@00 A4 04 00 06 A0 00 00 00 18 FF 
7FF952AC5B80@0x00000001
7FF952AC5B80@0x00000010
7FF952AC5B80@0x00000002
7FF952AC5B80@90 00 
7FF952AC5B80@<|1795885137|383083|SCardTransmit|Command successful.|0x00000000
7FF952AC5B80@>|1795885137|383141|SCardTransmit
7FF952AC5B80@0x678CA2E5
7FF952AC5B80@0x00000002
7FF952AC5B80@0x00000010
7FF952AC5B80@0x00000004
7FF952AC5B80@80 30 00 00 
7FF952AC5B80@0x00000001
7FF952AC5B80@0x00000010
7FF952AC5B80@0x00000000
7FF952AC5B80@
7FF952AC5B80@<|1795885137|383301|SCardTransmit|0x80100069
";

    #[test]
    fn pcsc_spy_raw_lines() {
        let t = parse(Format::PcscSpy, SPY_RAW, None).unwrap();
        assert_eq!(t.reader.as_deref(), Some("Virtual PCD 00 01"));
        let x = exchanges(&t);
        assert_eq!(x.len(), 2);
        assert_eq!(x[0].1, Outcome::Response(vec![0x90, 0x00]));
        assert_eq!(x[1].1, Outcome::Error("SCARD_W_REMOVED_CARD".into()));
        assert_eq!(t.events[0].at_us, Some(374));
        assert!(matches!(t.events.last().unwrap().what, What::Removed));
        assert_eq!(Format::detect(SPY_RAW), Some(Format::PcscSpy));
        let cut: String = SPY_RAW.lines().take(25).collect::<Vec<_>>().join("\n");
        assert_eq!(parse(Format::PcscSpy, &cut, None).unwrap_err().line, 22);
    }

    #[test]
    fn pcsc_spy_decoded() {
        let text = "SCardConnect
 i hContext: 0x70FCB0B0
 i szReader Virtual PCD 00 01
 o phCard 0x678CA2E5 (1737269989)
 => Command successful. (SCARD_S_SUCCESS [0x00000000])  [0.000316]
SCardTransmit
 i hCard: 0x678CA2E5
 i bSendLength 0x00000014 (20)
 i bSendBuffer
 i  0000 00 A4 04 00 0F D2 33 00 00 00 45 73 74 45 49 44  ......3...EstEID
 i  0010 20 76 33 35                                       v35
 o bRecvLength 0x00000002 (2)
 o bRecvBuffer
 o  0000 90 00                                           ..
 => Command successful. (SCARD_S_SUCCESS [0x00000000])  [0.000198]

Thread 1/1
";
        assert_eq!(Format::detect(text), Some(Format::PcscSpyDecoded));
        let t = parse(Format::PcscSpyDecoded, text, None).unwrap();
        let x = exchanges(&t);
        assert_eq!(x[0].0.len(), 20, "the ASCII column is not read as bytes");
        assert_eq!(x[0].0[16..], [0x20, 0x76, 0x33, 0x35]);
        assert_eq!(x[0].1, Outcome::Response(vec![0x90, 0x00]));
        let bad = text.replace(" i  0010 20 76 33 35", " i  0010 20 76");
        let e = parse(Format::PcscSpyDecoded, &bad, None).unwrap_err();
        assert!(e.message.contains("bSendLength"), "{e}");
        // A time that does not read is an error at its line, not a zero.
        let garbled = text.replace("[0.000198]", "[0.0x0198]");
        let e = parse(Format::PcscSpyDecoded, &garbled, None).unwrap_err();
        assert_eq!(e.line, 15, "{e}");
        assert!(e.message.contains("[0.0x0198]"), "{e}");
        // No time at all is read as an exchange without one.
        let untimed = text.replace("  [0.000198]", "");
        assert!(parse(Format::PcscSpyDecoded, &untimed, None).is_ok());
    }

    #[test]
    fn opensc_debug_log() {
        let text = "P:1986; T:0x1398 16:58:14.967 [pkcs15-tool] card.c:1234:match_atr_table: ATR     : 3b:88:80:01:00:00:05:e0:b3:81:a1:00:7f
P:1986; T:0x1398 16:58:14.971 [pkcs15-tool] reader-pcsc.c:325:pcsc_transmit: reader 'Virtual PCD 00 00'
P:1986; T:0x1398 16:58:14.971 [pkcs15-tool] reader-pcsc.c:326:pcsc_transmit: 
Outgoing APDU (20 bytes):
00 A4 04 0C 0F D2 33 00 00 00 45 73 74 45 49 44 ......3...EstEID
20 76 33 35  v35

P:1986; T:0x1398 16:58:14.974 [pkcs15-tool] reader-pcsc.c:335:pcsc_transmit: 
Incoming APDU (2 bytes):
6A 82 j.

";
        assert_eq!(Format::detect(text), Some(Format::Opensc));
        // pcscd's debug log of a machine with 16 readers: OpenSC lists them all (about 500
        // lines) before its first APDU; the format is still told.
        let mut busy = String::new();
        for i in 0..600 {
            busy.push_str(&format!(
                "00000004 readerfactory.c:866:RFReaderInfoById() RefReader() count was: {i}\n"
            ));
        }
        busy.push_str("00000003 APDU: 00 A4 04 00 07 62 76 01 FF 00 00 00\n00000003 SW: 90 00\n");
        assert_eq!(Format::detect(&busy), Some(Format::Pcscd));
        let t = parse(Format::Opensc, text, None).unwrap();
        assert_eq!(t.atr.as_ref().unwrap().len(), 13);
        assert_eq!(t.reader.as_deref(), Some("Virtual PCD 00 00"));
        let x = exchanges(&t);
        assert_eq!(x[0].0.len(), 20);
        assert_eq!(x[0].1, Outcome::Response(vec![0x6A, 0x82]));
        // A declared length no APDU can have is an error at its line — never an allocation of
        // that size (a panic on capacity overflow, or an abort out of memory).
        for (huge, line) in [
            ("18446744073709551615", 4),
            ("40000000000", 4),
            ("65545", 4),
        ] {
            let damaged = text.replace(
                "Outgoing APDU (20 bytes)",
                &format!("Outgoing APDU ({huge} bytes)"),
            );
            let e = parse(Format::Opensc, &damaged, None).unwrap_err();
            assert_eq!(e.line, line, "{e}");
            assert!(
                e.message.contains("no APDU is longer than 65544 bytes"),
                "{e}"
            );
        }
        let damaged = text.replace("Incoming APDU (2 bytes)", "Incoming APDU (65539 bytes)");
        let e = parse(Format::Opensc, &damaged, None).unwrap_err();
        assert!(e.message.contains("65538"), "{e}");
        match &t.events[0].what {
            What::Exchange { took_us, .. } => assert_eq!(*took_us, Some(3000)),
            other => panic!("{other:?}"),
        }
        let cut = text.replace("20 76 33 35  v35\n", "");
        assert_eq!(parse(Format::Opensc, &cut, None).unwrap_err().line, 6);
    }

    #[test]
    fn kazasu_transcript() {
        let text = r#"{"event":"card_inserted","slot":0,"t_ms":1.9}
{"event":"getatr","slot":0,"t_ms":147.5,"atr":"3B 88 80 01 00 00 05 E0 B3 81 A1 00 7F"}
{"command":"00 20 00 80 04 ** ** ** **","event":"apdu","response":"","sim_ns":4321000,"slot":0,"sw":"9000","t_ms":200.0}
{"command":"00 B0 00 00 04","event":"apdu","response":"","sim_ns":0,"slot":0,"sw":"","t_ms":210.0}
{"event":"card_removed","slot":0,"t_ms":211.0,"why":"the card left the field during the exchange"}
"#;
        assert_eq!(Format::detect(text), Some(Format::Kazasu));
        let t = parse(Format::Kazasu, text, None).unwrap();
        assert_eq!(t.atr.as_ref().unwrap().len(), 13);
        match &t.events[1].what {
            What::Exchange {
                redacted, took_us, ..
            } => assert_eq!((*redacted, *took_us), (true, Some(4321))),
            other => panic!("{other:?}"),
        }
        assert_eq!(exchanges(&t)[1].1, Outcome::Nothing);
        assert!(matches!(t.events[3].what, What::Removed));
        let e = parse(Format::Kazasu, "{\"event\":\"apdu\"}\n", None).unwrap_err();
        assert_eq!(e.line, 1);
    }

    const ALL: [Format; 6] = [
        Format::Pcscd,
        Format::PcscSpy,
        Format::PcscSpyDecoded,
        Format::Apdu4j,
        Format::Opensc,
        Format::Kazasu,
    ];

    proptest! {
        #[test]
        fn importers_never_panic(text in "\\PC{0,400}") {
            for f in ALL {
                if let Err(e) = parse(f, &text, None) {
                    prop_assert!(e.line <= text.lines().count());
                }
            }
            let _ = parse(Format::Auto, &text, Some("x"));
        }

        #[test]
        fn pcscd_lines_never_panic(lines in proptest::collection::vec("(0000[0-9]{4} )?(APDU: |SW: |Card ATR: |Card Removed From |Received command: TRANSMIT from client )?[0-9A-F ]{0,20}", 0..20)) {
            let _ = parse_pcscd(&lines.join("\n"));
        }

        #[test]
        fn spy_lines_never_panic(lines in proptest::collection::vec("(7F@)?(>\\||<\\|)?[0-9|]{0,12}(SCardTransmit|SCardConnect|SCardStatus)?(\\|0x[0-9A-F]{8})?[0-9A-F ]{0,12}", 0..30)) {
            let text = lines.join("\n");
            let _ = parse(Format::PcscSpy, &text, None);
            let _ = parse(Format::PcscSpyDecoded, &text.replace("7F@", " i "), None);
        }

        /// Clocks that run backwards or overflow (threads, midnight, garbage) never panic.
        #[test]
        fn odd_clocks_never_panic(t in proptest::collection::vec("[0-9]{1,25}", 4)) {
            let opensc = format!(
                "P:1; T:0x1 {}:{}:00.{} [t] x: reader 'R'\nOutgoing APDU (1 bytes):\n00\nP:1; T:0x1 00:00:00.000 [t] x\nIncoming APDU (2 bytes):\n90 00\n",
                t[0], t[1], t[2]
            );
            let _ = parse(Format::Opensc, &opensc, None);
            let spy = format!(
                "7F@>|{}|{}|SCardTransmit\n7F@0x1\n7F@00 \n7F@90 00 \n7F@<|0|0|SCardTransmit|0x00000000\n7F@>|0|0|SCardTransmit\n7F@0x1\n7F@00 \n7F@90 00 \n7F@<|{}|0|SCardTransmit|0x00000000\n",
                t[0], t[1], t[3]
            );
            let _ = parse(Format::PcscSpy, &spy, None);
        }

        #[test]
        fn opensc_lines_never_panic(lines in proptest::collection::vec("(P:1; T:0x1 1[0-9]:[0-5][0-9]:[0-5][0-9]\\.[0-9]{3} \\[t\\] )?(Outgoing APDU \\(|Incoming APDU \\()?[0-9]{0,2}( bytes\\):)?[0-9A-F ]{0,12}", 0..30)) {
            let _ = parse(Format::Opensc, &lines.join("\n"), None);
        }

        /// A pcscd log made of real exchanges reads back as those exchanges, with the line of
        /// the first broken one reported when one is broken.
        #[test]
        fn pcscd_round_trip(cmds in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 4..20), 1..20), broken in any::<prop::sample::Index>()) {
            let mut log = String::new();
            for c in &cmds {
                log.push_str(&format!("00000003 APDU: {} \n00000100 SW: 90 00 \n", kazasu_sim::hex_spaced(c)));
            }
            let t = parse_pcscd(&log).unwrap();
            prop_assert_eq!(t.exchanges(), cmds.len());
            let k = broken.index(cmds.len());
            let mut lines: Vec<String> = log.lines().map(str::to_string).collect();
            lines[2 * k + 1] = "00000100 SW: 9G 00".into();
            let e = parse_pcscd(&lines.join("\n")).unwrap_err();
            prop_assert_eq!(e.line, 2 * k + 2);
        }
    }
}
