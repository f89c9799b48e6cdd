//! Normalisers: raw strings from departmental systems become validated values
//! (GB 11643 ID numbers, phones, plates, names, dates). Pure functions.
