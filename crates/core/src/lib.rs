//! Pure domain types shared by every pingan crate.
//!
//! Nothing here does I/O, reads the clock or knows about HTTP or SQL: callers pass
//! time in as a [`Timestamp`] and coordinates as a validated [`LatLng`].

pub mod geo;
pub mod normalize;
pub mod time;

pub use geo::{BBox, GeoError, LatLng};
pub use time::{Clock, SystemClock, Timestamp};
