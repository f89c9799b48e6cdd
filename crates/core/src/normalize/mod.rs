//! Normalisers: raw strings from departmental systems become validated values
//! (GB 11643 ID numbers, phones, plates, names, dates, addresses) and masked
//! renderings of them. Pure functions: no I/O, no clock (the reference "today" is
//! passed in), deterministic.

pub mod address;
pub mod date;
pub mod id_number;
pub mod mask;
pub mod name;
pub mod phone;
pub mod plate;
pub mod region;
pub mod text;
