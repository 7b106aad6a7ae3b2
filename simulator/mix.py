"""The behaviour mix of the synthetic population: every proportion in one place.

Each constant says where its value comes from: a figure from
/work/shared/DOMAIN.md (the CRM sources), the generator's brief, or a plain
modelling assumption. The archetype shares are calibrated for a one-year run
(``days=365``): churn days and complaint days are placed inside the run, so a
much longer run still shows each churner leaving only once.

May import: the stdlib, schemas and this package only (no numpy, no Kafka).
"""

from __future__ import annotations

# --- churn -----------------------------------------------------------------
# DOMAIN.md "Churn and its early warning": a typical business loses about 15%
# of its customers a year, and about 95% of dissatisfied customers never
# complain; they just buy less and leave.
CHURN_RATE_PER_YEAR = 0.15
SILENT_SHARE_OF_LEAVERS = 0.95

# DOMAIN.md: a complaint resolved quickly keeps about 95% of complainers; a
# resolved one 54% to 70% (we take the midpoint for "resolved late"). Brief:
# unresolved complainers "mostly leave"; 20% staying is our assumption.
REPURCHASE_AFTER_FAST = 0.95
REPURCHASE_AFTER_LATE = 0.62
REPURCHASE_AFTER_NEVER = 0.20

# --- archetypes (share of all customers) -------------------------------------
# prospect: brief "about 10-20% only visit/call and never buy" (ladder stage 1).
# one_time: ladder stage 2, "first-time buyer"; share is an assumption.
# churner: the silent leavers, 15%/year x 95% silent (DOMAIN.md).
# complainer_*: few on purpose. Leavers among them are 2.6% x (1 - keep rate)
#   = about 0.8% of customers, i.e. about 5% of all leavers, which keeps the
#   DOMAIN.md "95% never complain" ratio.
# win_back: ladder stage 8, a churned customer who came back (assumption).
# loyal: ladder stages 4-5, short rhythm, high satisfaction, the referrers.
# regular: everyone else, repeat buyers on their own rhythm (ladder stage 3).
ARCHETYPE_SHARES: dict[str, float] = {
    "prospect": 0.15,
    "one_time": 0.10,
    "churner": round(CHURN_RATE_PER_YEAR * SILENT_SHARE_OF_LEAVERS, 4),
    "complainer_fast": 0.012,
    "complainer_late": 0.008,
    "complainer_never": 0.006,
    "win_back": 0.015,
    "loyal": 0.10,
}
ARCHETYPE_SHARES["regular"] = round(1.0 - sum(ARCHETYPE_SHARES.values()), 4)

COMPLAINERS = ("complainer_fast", "complainer_late", "complainer_never")
NON_BUYERS = ("prospect",)
SINGLE_PURCHASE = ("one_time",)

# --- who, where, what currency -------------------------------------------------
# Brief: "mostly segment consumer, a few business"; 5% is an assumption.
BUSINESS_SHARE = 0.05
# The sources include Chinese retail and bank cases: some customers pay in CNY.
CNY_SHARE = 0.12
# Rough exchange rate used only to put CNY spend levels on the EUR scale.
CNY_PER_EUR = 7.8
# Existing customers show up in the log within their first rhythm; the others
# are newcomers spread over the run (assumption).
EXISTING_CUSTOMER_SHARE = 0.6

# --- value pyramid ---------------------------------------------------------------
# DOMAIN.md "Value tiers": roughly 20% of customers bring 80% of profit. A
# lognormal basket size (median EUR 35, sigma 1.1) times a log-uniform
# purchase frequency gives a top-20% spend share of about 0.6-0.85.
SPEND_MEDIAN_EUR_MINOR = 3_500
SPEND_SIGMA = 1.1
BUSINESS_SPEND_FACTOR = 5.0
LOYAL_SPEND_FACTOR = 1.5
BASKET_SIGMA = 0.45  # one purchase around the customer's own level

# --- rhythms -------------------------------------------------------------------
# Brief: each buyer has their own mean inter-purchase interval, 7-120 days.
RHYTHM_DAYS = (7.0, 120.0)
LOYAL_RHYTHM_DAYS = (7.0, 45.0)
WIN_BACK_RHYTHM_DAYS = (7.0, 40.0)
RHYTHM_JITTER_SIGMA = 0.35
# "buy less and leave": gaps stretch in the last stretch before churning.
FADING_GAP_FACTOR = 1.5
# Share of buyers who buy right at registration (signed up at the till).
BUY_AT_REGISTRATION = 0.6

# --- engagement without buying ---------------------------------------------------
# Assumptions chosen for 50-200 events per customer-year.
VISITS_PER_PURCHASE = 4.0
PROSPECT_VISIT_DAYS = (3.0, 30.0)
ONE_TIME_VISIT_DAYS = (7.0, 60.0)
CALL_INTERVAL_DAYS = (20.0, 240.0)

# --- complaints ------------------------------------------------------------------
# Brief: most complaints get a promised resolution date a few days out.
PROMISE_GIVEN_SHARE = 0.85
PROMISE_DAYS = (2, 7)
# Brief: some call about the open complaint (min, max calls per complaint).
CALLS_ABOUT_OPEN_COMPLAINT: dict[str, tuple[int, int]] = {
    "complainer_fast": (0, 1),
    "complainer_late": (1, 3),
    "complainer_never": (1, 4),
}
LATE_RESOLUTION_EXTRA_DAYS = (1, 30)
COMPENSATION_SHARE = 0.4
SURVEY_AFTER_COMPLAINT = 0.5

# --- surveys -----------------------------------------------------------------------
SURVEY_AFTER_PURCHASE = 0.08
# Brief: "a few legacy version 1 records" to exercise the upcaster.
SURVEY_V1_SHARE = 0.05
SURVEY_ACSI_SHARE = 0.3  # expectation / perceived quality given (ACSI, DOMAIN.md)
SURVEY_COMMENT_SHARE = 0.25
# Mean latent satisfaction (0..1) per archetype; "completely satisfied" loyal
# customers sit at the top (DOMAIN.md "Satisfaction"). Assumption.
SATISFACTION: dict[str, float] = {
    "prospect": 0.6,
    "one_time": 0.55,
    "churner": 0.4,
    "complainer_fast": 0.7,
    "complainer_late": 0.35,
    "complainer_never": 0.15,
    "win_back": 0.5,
    "loyal": 0.88,
    "regular": 0.7,
}

# --- referrals and identities ----------------------------------------------------
# DOMAIN.md: a happy customer tells about 5 people; a few become customers.
# Share of customers who joined on a loyal customer's referral (assumption).
REFERRED_SHARE = 0.02
REFERRAL_LEAD_DAYS = (1, 7)
# Brief: one person on several channels under several ids; 1% of customers
# are a second id of someone else (at least one pair when customers >= 10).
SAME_PERSON_SHARE = 0.01
CARD_LINK_SHARE = 0.10
NEW_CONTACT_SHARE = 0.03
EMAIL_GIVEN_SHARE = 0.85
PHONE_GIVEN_SHARE = 0.55

# --- recording -------------------------------------------------------------------
# Brief: ~1% of events reach the log late (hours to days, a batch upload).
LATE_RECORDED_SHARE = 0.01
LATE_DELAY_HOURS = (1.0, 120.0)
RECORDING_DELAY_SECONDS = (1, 9)
