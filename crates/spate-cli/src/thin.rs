//! A bounded history for plots: every point until the cap, then every other point kept is
//! dropped and the stride doubles, so the history spans the whole run in bounded memory.

/// At most this many points are kept.
const CAP: usize = 2000;

#[derive(Default)]
pub struct Thinned<T> {
    pub points: Vec<T>,
    stride: u64,
    offered: u64,
}

impl<T> Thinned<T> {
    pub fn push(&mut self, point: T) {
        self.stride = self.stride.max(1);
        if self.offered.is_multiple_of(self.stride) {
            self.points.push(point);
            if self.points.len() >= CAP {
                let mut i = 0;
                self.points.retain(|_| {
                    i += 1;
                    i % 2 == 1
                });
                self.stride *= 2;
            }
        }
        self.offered += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_history_stays_bounded_and_spans_the_run() {
        let mut t = Thinned::default();
        for i in 0..100_000u64 {
            t.push(i);
        }
        assert!(t.points.len() < CAP);
        assert_eq!(t.points[0], 0);
        assert!(*t.points.last().unwrap() > 90_000);
    }
}
