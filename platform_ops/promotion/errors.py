"""The two ways a promotion command can fail.

A Refusal means the request itself is wrong or unsafe (bad tag, unknown env, dirty tree,
conflicting rollback); nothing was written and the exit code is 2. A PromotionFailed means
the request was fine but could not be carried out (push rejected every time, git broke);
the exit code is 1 so that CI shows it as an operational failure, not a bad input.
"""
from __future__ import annotations


class Refusal(Exception):
    exit_code = 2


class PromotionFailed(Exception):
    exit_code = 1
