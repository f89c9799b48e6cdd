//! WGS84 coordinates and the few geometric helpers every module needs.

use thiserror::Error;

/// Mean Earth radius in metres (IUGG), used for great-circle distances.
pub const EARTH_RADIUS_M: f64 = 6_371_008.8;

#[derive(Debug, Error, PartialEq)]
pub enum GeoError {
    #[error("latitude {0} is outside -90..=90")]
    LatOutOfRange(f64),
    #[error("longitude {0} is outside -180..=180")]
    LngOutOfRange(f64),
    #[error("coordinate is not a finite number")]
    NotFinite,
}

impl GeoError {
    /// The name of the offending field, for error responses.
    pub fn field(&self) -> &'static str {
        match self {
            GeoError::LatOutOfRange(_) => "lat",
            GeoError::LngOutOfRange(_) => "lng",
            GeoError::NotFinite => "lat",
        }
    }
}

/// A validated WGS84 point. Holding one proves both parts are finite and in range.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LatLng {
    lat: f64,
    lng: f64,
}

impl LatLng {
    pub fn new(lat: f64, lng: f64) -> Result<Self, GeoError> {
        if !lat.is_finite() || !lng.is_finite() {
            return Err(GeoError::NotFinite);
        }
        if !(-90.0..=90.0).contains(&lat) {
            return Err(GeoError::LatOutOfRange(lat));
        }
        if !(-180.0..=180.0).contains(&lng) {
            return Err(GeoError::LngOutOfRange(lng));
        }
        Ok(LatLng { lat, lng })
    }

    pub fn lat(&self) -> f64 {
        self.lat
    }

    pub fn lng(&self) -> f64 {
        self.lng
    }

    /// Great-circle distance in metres (haversine).
    pub fn distance_m(&self, other: &LatLng) -> f64 {
        let (p1, p2) = (self.lat.to_radians(), other.lat.to_radians());
        let dp = p2 - p1;
        let dl = (other.lng - self.lng).to_radians();
        let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
        2.0 * EARTH_RADIUS_M * a.sqrt().min(1.0).asin()
    }

    /// The point `north_m` metres north and `east_m` metres east of this one
    /// (local flat-earth approximation, good to well under a metre over a city).
    pub fn offset_m(&self, north_m: f64, east_m: f64) -> LatLng {
        let dlat = north_m / EARTH_RADIUS_M;
        let dlng = east_m / (EARTH_RADIUS_M * self.lat.to_radians().cos());
        LatLng {
            lat: (self.lat + dlat.to_degrees()).clamp(-90.0, 90.0),
            lng: (self.lng + dlng.to_degrees()).clamp(-180.0, 180.0),
        }
    }
}

/// An axis-aligned box in degrees.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BBox {
    pub min_lat: f64,
    pub min_lng: f64,
    pub max_lat: f64,
    pub max_lng: f64,
}

impl BBox {
    pub fn contains(&self, p: &LatLng) -> bool {
        p.lat >= self.min_lat
            && p.lat <= self.max_lat
            && p.lng >= self.min_lng
            && p.lng <= self.max_lng
    }

    pub fn center(&self) -> LatLng {
        LatLng {
            lat: (self.min_lat + self.max_lat) / 2.0,
            lng: (self.min_lng + self.max_lng) / 2.0,
        }
    }

    /// Grows the box by `margin_m` metres on every side.
    pub fn expand_m(&self, margin_m: f64) -> BBox {
        let lo = LatLng {
            lat: self.min_lat,
            lng: self.min_lng,
        }
        .offset_m(-margin_m, -margin_m);
        let hi = LatLng {
            lat: self.max_lat,
            lng: self.max_lng,
        }
        .offset_m(margin_m, margin_m);
        BBox {
            min_lat: lo.lat,
            min_lng: lo.lng,
            max_lat: hi.lat,
            max_lng: hi.lng,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_out_of_range() {
        assert_eq!(LatLng::new(91.0, 0.0), Err(GeoError::LatOutOfRange(91.0)));
        assert_eq!(
            LatLng::new(0.0, -181.0),
            Err(GeoError::LngOutOfRange(-181.0))
        );
        assert_eq!(LatLng::new(f64::NAN, 0.0), Err(GeoError::NotFinite));
    }

    #[test]
    fn distance_of_one_degree_latitude() {
        let a = LatLng::new(30.0, 104.0).unwrap();
        let b = LatLng::new(31.0, 104.0).unwrap();
        assert!((a.distance_m(&b) - 111_195.0).abs() < 10.0);
    }

    #[test]
    fn offset_round_trips_distance() {
        let a = LatLng::new(30.6, 104.06).unwrap();
        let b = a.offset_m(3000.0, 4000.0);
        assert!((a.distance_m(&b) - 5000.0).abs() < 2.0);
    }
}
