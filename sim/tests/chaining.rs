//! Chaining in both directions for every frame size.
//!
//! Every message length 1..=65535 is segmented for every frame size (index 0..=12) and the
//! segments are checked to rebuild the message exactly; then real bytes go through the reader,
//! the card's protocol layer and the readertest applet for every frame size — densely for short
//! messages, at every segment boundary up to 64 segments, and near the 65,535-byte maximum.

#[path = "common/reader.rs"]
mod common;

use common::*;
use kazasu_sim::applets::readertest::pattern;
use kazasu_sim::iso14443::atr::FRAME_SIZES;
use kazasu_sim::iso14443::frame::{inf_room, next_segment};
use kazasu_sim::{CardProfile, ReaderProfile};

#[test]
fn every_length_segments_and_reassembles_for_every_frame_size() {
    std::thread::scope(|s| {
        for chunk in FRAME_SIZES.chunks(7) {
            s.spawn(move || {
                for &fs in chunk {
                    let room = inf_room(fs);
                    for len in 1..=65535usize {
                        let (mut start, mut blocks) = (0, 0);
                        loop {
                            let (end, more) = next_segment(start, len, room);
                            assert!(
                                end > start && end - start <= room,
                                "fs {fs} len {len}: segment {start}..{end}"
                            );
                            assert_eq!(more, end < len, "fs {fs} len {len}: chaining bit");
                            blocks += 1;
                            start = end;
                            if !more {
                                break;
                            }
                        }
                        assert_eq!(start, len, "fs {fs} len {len}: covers the message");
                        assert_eq!(
                            blocks,
                            len.div_ceil(room),
                            "fs {fs} len {len}: fewest blocks"
                        );
                    }
                }
            });
        }
    });
}

fn lengths_for(room: usize) -> Vec<usize> {
    let mut v: Vec<usize> = (1..=300).collect();
    for k in 1..=64 {
        for d in [-1i64, 0, 1] {
            v.push(((k * room) as i64 + d) as usize);
        }
    }
    v.extend(65520..=65535);
    v.retain(|l| (1..=65535).contains(l));
    v.sort_unstable();
    v.dedup();
    v
}

#[test]
fn real_bytes_chain_both_ways_for_every_frame_size() {
    for (index, &fs) in FRAME_SIZES.iter().enumerate() {
        let mut card = CardProfile::builtin("readertest").unwrap();
        card.contactless.fsci.value = index as u8;
        let mut reader_profile = ReaderProfile::builtin("fast-848k").unwrap();
        reader_profile.fsdi.value = index as u8;
        let mut r = reader_with(reader_profile, card, "", 1);
        r.tap().unwrap();
        send(&mut r, "00 A4 04 00 06 A0 00 00 00 18 FF").unwrap();
        let room = inf_room(fs);
        for len in lengths_for(room) {
            // Command of `len` bytes in all (extended case 3: 7 header bytes + data) …
            let data_len = len.saturating_sub(7).max(1);
            let mut cmd = vec![0x80, 0x3A, 0x00, 0x00, 0x00];
            cmd.extend_from_slice(&(data_len as u16).to_be_bytes());
            cmd.extend_from_slice(&pattern(data_len));
            let t = r
                .transmit(&cmd)
                .unwrap_or_else(|e| panic!("fs {fs}: command of {} bytes: {e}", cmd.len()));
            assert_eq!(
                t.response,
                [0x90, 0x00],
                "fs {fs}: command of {} bytes arrives whole",
                cmd.len()
            );
            // … and an answer of `len` bytes in all (extended case 2: data + SW).
            let answer = len.saturating_sub(2).max(1);
            let mut get = vec![0x80, 0x3C, (answer >> 8) as u8, answer as u8, 0x00];
            get.extend_from_slice(&(answer as u16).to_be_bytes());
            let t = r
                .transmit(&get)
                .unwrap_or_else(|e| panic!("fs {fs}: answer of {answer} bytes: {e}"));
            assert_eq!(t.response.len(), answer + 2, "fs {fs}");
            assert_eq!(
                t.response[..answer],
                pattern(answer)[..],
                "fs {fs}: answer of {answer} bytes reassembled"
            );
            assert_eq!(t.response[answer..], [0x90, 0x00]);
        }
    }
}
