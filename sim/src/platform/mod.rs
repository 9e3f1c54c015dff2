//! What a card is made of, below its applications: the profile that says how it behaves, the test
//! identities with their keys and certificates, the signature schemes, the card's own CV
//! certificates, the test PKI that made them, and the card OS (files, PINs, access rules) the
//! applications are data on.

pub mod bit_rate;
pub mod cv_cert;
pub mod identity;
pub mod images;
pub mod mf_object;
pub mod my_number;
pub(crate) mod os;
pub mod pki;
pub mod profile;
pub mod signature;
