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
