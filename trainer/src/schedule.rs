//! The learning rate over a run (`--lr-schedule`), drawn from burn's schedulers.
//!
//! burn's cosine annealing (`CosineAnnealingLrSchedulerConfig` with `min_lr` 0 over the run's
//! epochs) gives bit for bit the rates sermo's own formula gave,
//! `0.5 · lr · (1 + cos(π · (epoch − 1) / epochs))`, for every epoch a run reaches (the test
//! below keeps that formula as the reference). It steps once per epoch, not per batch, as the
//! schedule always did. burn accepts a base rate in (0, 1] only.

use anyhow::{Result, anyhow};
use burn::lr_scheduler::cosine::CosineAnnealingLrSchedulerConfig;
use burn::lr_scheduler::module_lr_scheduler::ModuleLrScheduler;
use serde::{Deserialize, Serialize};

/// How the learning rate moves over a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LrSchedule {
    /// The same rate every epoch (the paper).
    #[default]
    Constant,
    /// Half a cosine from the rate at epoch 1 towards 0 after the last epoch.
    Cosine,
}

impl LrSchedule {
    /// Whether this is the paper's constant rate (config.json then leaves the field out).
    pub fn is_constant(&self) -> bool {
        *self == LrSchedule::Constant
    }

    /// The rates of a run of `epochs` epochs from the base rate `lr`, starting at epoch 1.
    pub fn rates(self, lr: f64, epochs: usize) -> Result<Rates> {
        let scheduler = match self {
            LrSchedule::Constant => ModuleLrScheduler::new(lr),
            LrSchedule::Cosine => CosineAnnealingLrSchedulerConfig::new(lr, epochs.max(1))
                .init()
                .map_err(|e| anyhow!("--lr-schedule cosine with --lr {lr}: {e}"))?,
        };
        Ok(Rates { scheduler })
    }
}

/// The learning rate epoch after epoch.
pub struct Rates {
    scheduler: ModuleLrScheduler,
}

impl Rates {
    /// Passes over the epochs a resumed run has done, so that it goes on at the rate an
    /// uninterrupted run would have.
    pub fn skip(&mut self, epochs: usize) {
        for _ in 0..epochs {
            self.scheduler.step();
        }
    }

    /// The rate of the next epoch.
    pub fn next_epoch(&mut self) -> f64 {
        self.scheduler.step().base()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::LrSchedule;

    /// The rates of every epoch of a run of `epochs`.
    fn rates(schedule: LrSchedule, lr: f64, epochs: usize) -> Vec<f64> {
        let mut rates = schedule.rates(lr, epochs).unwrap();
        (0..epochs).map(|_| rates.next_epoch()).collect()
    }

    #[test]
    fn cosine_schedule_falls_from_the_base_rate_towards_zero() {
        let (lr, epochs) = (0.01, 100);
        assert!(
            rates(LrSchedule::Constant, lr, epochs)
                .iter()
                .all(|&r| r == lr)
        );
        let rates = rates(LrSchedule::Cosine, lr, epochs);
        assert!((rates[0] - lr).abs() < 1e-15);
        assert!((rates[50] - lr / 2.0).abs() < 1e-12, "{}", rates[50]);
        assert!(rates.windows(2).all(|w| w[1] < w[0]));
        let last = rates[epochs - 1];
        assert!(last > 0.0 && last < lr * 1e-3, "{last}");
    }

    /// burn's scheduler gives exactly the rates of the formula sermo used before it, so runs
    /// begun with that formula resume on the same rates.
    #[test]
    fn cosine_rates_are_those_of_the_former_formula() {
        let former = |lr: f64, epoch: usize, epochs: usize| {
            let progress = (epoch.saturating_sub(1)) as f64 / epochs.max(1) as f64;
            0.5 * lr * (1.0 + (std::f64::consts::PI * progress.min(1.0)).cos())
        };
        for (lr, epochs) in [(0.01, 200), (0.01, 1), (0.1, 37), (1.0, 3)] {
            let got = rates(LrSchedule::Cosine, lr, epochs);
            for (i, rate) in got.iter().enumerate() {
                assert_eq!(rate.to_bits(), former(lr, i + 1, epochs).to_bits());
            }
        }
    }

    /// A resumed run skips the epochs done and goes on where the uninterrupted run was.
    #[test]
    fn skipping_continues_the_schedule() {
        let all = rates(LrSchedule::Cosine, 0.01, 10);
        let mut resumed = LrSchedule::Cosine.rates(0.01, 10).unwrap();
        resumed.skip(4);
        assert_eq!(resumed.next_epoch(), all[4]);
    }

    #[test]
    fn a_rate_burn_cannot_anneal_is_refused() {
        let err = LrSchedule::Cosine.rates(2.0, 10).err().unwrap().to_string();
        assert!(err.contains("--lr 2"), "{err}");
        assert!(LrSchedule::Constant.rates(2.0, 10).is_ok());
    }
}
