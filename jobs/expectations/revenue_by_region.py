"""What the revenue_by_region job expects of its orders and of the report it publishes.

The orders are checked as the job reads them, joined to their customers (left), so the share of
orders whose customer is unknown is measured where it arises: a few percent is normal for an
order feed and only warns (the report keeps them under the region ``unknown``); more is a
broken customer feed. The report is checked as it was written, before it is promoted.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from great_expectations.core.expectation_suite import ExpectationSuite

ACCEPTED_REGIONS = ("north", "south", "east", "west", "central", "unknown")
ORDER_STATUSES = ("completed", "cancelled", "returned")
#: Orders in one run: the DAG accepts up to 10 million.
MAX_ORDERS = 10_000_000
#: One order's amount, in the store's currency: a line above this is a unit or parsing error.
MAX_ORDER_AMOUNT = 100_000
#: Share of orders whose customer must be known; below it, a warning.
KNOWN_CUSTOMER_SHARE = 0.95


def orders_suite() -> ExpectationSuite:
    """Return the suite for the orders joined to their customers' ``customer_region``."""
    import great_expectations as gx
    import great_expectations.expectations as gxe

    return gx.ExpectationSuite(name="revenue_by_region.orders", expectations=[
        gxe.ExpectTableRowCountToBeBetween(min_value=1, max_value=MAX_ORDERS),
        *(gxe.ExpectColumnValuesToNotBeNull(column=key) for key in ("order_id", "customer_id", "order_date")),
        gxe.ExpectColumnValuesToBeUnique(column="order_id"),
        gxe.ExpectColumnValuesToBeBetween(column="amount", min_value=0, max_value=MAX_ORDER_AMOUNT),
        gxe.ExpectColumnValuesToBeInSet(column="status", value_set=list(ORDER_STATUSES)),
        # Referential: orders whose customer is not in the customer table.
        gxe.ExpectColumnValuesToNotBeNull(column="customer_region", mostly=KNOWN_CUSTOMER_SHARE, severity="warning"),
    ])  # fmt: skip


def report_suite() -> ExpectationSuite:
    """Return the suite for the published report: one row per (order_date, region)."""
    import great_expectations as gx
    import great_expectations.expectations as gxe

    return gx.ExpectationSuite(name="revenue_by_region.report", expectations=[
        gxe.ExpectTableRowCountToBeBetween(min_value=1),
        *(gxe.ExpectColumnValuesToNotBeNull(column=key) for key in ("order_date", "region")),
        gxe.ExpectCompoundColumnsToBeUnique(column_list=["order_date", "region"]),
        gxe.ExpectColumnValuesToBeInSet(column="region", value_set=list(ACCEPTED_REGIONS)),
        gxe.ExpectColumnValuesToBeBetween(column="revenue", min_value=0),
        gxe.ExpectColumnValuesToBeBetween(column="orders", min_value=1),
    ])  # fmt: skip
