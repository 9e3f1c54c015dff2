//! The driver's requests as kazasu's link reads them, and kazasu's answers as the driver reads
//! them: both ends of the socket agree on the two requests vpcd's protocol lacks.

use kazasu_ifd::link::{ATTRIBUTE, CONTROL, ReaderAnswer, reader_request};
use kazasu_sim::vpcd::{self, Decoder, Request};

#[test]
fn a_control_and_an_attribute_request_reach_the_link_as_sent() {
    let mut d = Decoder::default();
    d.push(&reader_request(CONTROL, 0x4233_0006, &[0x1E, 0x00, 0x82]).expect("fits"));
    d.push(&reader_request(ATTRIBUTE, 0x0001_0101, &[]).expect("fits"));
    assert_eq!(
        d.next_request(),
        Some(Ok(Request::Control {
            code: 0x4233_0006,
            data: vec![0x1E, 0x00, 0x82]
        }))
    );
    assert_eq!(d.next_request(), Some(Ok(Request::Attribute(0x0001_0101))));
    assert_eq!(d.next_request(), None);
    assert_eq!((CONTROL, ATTRIBUTE), (vpcd::CONTROL, vpcd::ATTRIBUTE));
}

#[test]
fn the_links_answers_split_into_the_drivers_verdicts() {
    let frame = |a, data: &[u8]| {
        let f = vpcd::encode_reader_answer(a, data).expect("fits");
        f[2..].to_vec()
    };
    let done = frame(vpcd::ReaderAnswer::Done, &[0x90, 0x00]);
    assert_eq!(
        ReaderAnswer::split(&done),
        (ReaderAnswer::Done, &[0x90, 0x00][..])
    );
    let none = frame(vpcd::ReaderAnswer::Unsupported, &[]);
    assert_eq!(ReaderAnswer::split(&none).0, ReaderAnswer::Unsupported);
    let failed = frame(vpcd::ReaderAnswer::Failed, &[]);
    assert_eq!(ReaderAnswer::split(&failed).0, ReaderAnswer::Failed);
}

#[test]
fn kazasus_answers_and_faults_read_as_the_driver_expects() {
    use kazasu_ifd::link::{ANSWER, FAULT, FAULT_RESPONSE_TIMEOUT, FAULT_UNPLUGGED, KAZASU_HELLO};
    assert_eq!(KAZASU_HELLO, vpcd::KAZASU_HELLO);
    assert_eq!(&vpcd::kazasu_hello()[2..], KAZASU_HELLO);
    let plain = vpcd::encode(&[0x90, 0x00]).expect("fits");
    assert_eq!(
        vpcd::kazasu_answer(&plain).expect("fits")[2..],
        [ANSWER, 0x90, 0x00]
    );
    assert_eq!(
        vpcd::kazasu_fault(vpcd::ReaderFault::ResponseTimeout)[2..],
        [FAULT, FAULT_RESPONSE_TIMEOUT]
    );
    assert_eq!(
        vpcd::kazasu_fault(vpcd::ReaderFault::Unplugged)[2..],
        [FAULT, FAULT_UNPLUGGED]
    );
    assert_eq!(
        vpcd::kazasu_fault(vpcd::ReaderFault::Mute)[2..],
        [FAULT, kazasu_ifd::link::FAULT_MUTE]
    );
    // An ATR starts with 3B or 3F: never taken for the greeting.
    assert!(![0x3B, 0x3F].contains(&KAZASU_HELLO[0]));
}

#[test]
fn an_answer_too_long_for_one_marked_frame_comes_in_two() {
    use kazasu_ifd::link::{ANSWER, ANSWER_PART};
    let answer: Vec<u8> = (0..65_535u32).map(|i| i as u8).collect();
    let wire = vpcd::kazasu_answer(&vpcd::encode(&answer).expect("fits")).expect("fits");
    assert_eq!(ANSWER_PART, vpcd::ANSWER_PART);
    // The driver's reading: parts behind ANSWER_PART, the last behind ANSWER.
    let mut frames = Vec::new();
    let mut rest = &wire[..];
    while rest.len() >= 2 {
        let n = usize::from(u16::from_be_bytes([rest[0], rest[1]]));
        frames.push(rest[2..2 + n].to_vec());
        rest = &rest[2 + n..];
    }
    assert_eq!(frames.len(), 2);
    assert_eq!(frames[0][0], ANSWER_PART);
    assert_eq!(frames[1][0], ANSWER);
    let joined: Vec<u8> = frames.iter().flat_map(|f| f[1..].to_vec()).collect();
    assert_eq!(joined, answer);
}
