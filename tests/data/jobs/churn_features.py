# Generated from notebooks/churn_features.ipynb by `sparkplane notebook convert`: change the notebook and convert again.
# Converting refuses to replace this file once edited by hand (--force replaces it).
# sparkplane-generated: notebook-sha256=b28084b1e61ac6c5 content-sha256=c513bd0eb9609ac9
"""Customer spend scaled for a churn model

Usage: spark-submit churn_features.py [OPTIONS]; --help lists the notebook's parameters.
"""

import argparse
from collections.abc import Sequence

import pandas as pd
from pyspark.sql import SparkSession
from pyspark.sql import functions as F


def parse_arguments(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The notebook's parameters cell as command-line options, with its values as defaults."""
    parser = argparse.ArgumentParser(
        prog="churn_features.py", description="Customer spend scaled for a churn model"
    )
    parser.add_argument(
        "--orders-path",
        default="data/orders",
        help="Parquet orders: order_id, region, amount, order_date (default: %(default)s)",
    )
    parser.add_argument(
        "--output-path", default="data/churn_features", help="the features, Parquet (default: %(default)s)"
    )
    options = parser.parse_args(argv)
    return options


def main(argv: Sequence[str] | None = None) -> None:
    options = parse_arguments(argv)
    orders_path = options.orders_path
    output_path = options.output_path

    # notebook cell 4
    spark = SparkSession.builder.appName("churn-features").getOrCreate()

    # notebook cell 5
    @F.pandas_udf("double")
    def scaled(spend: pd.Series) -> pd.Series:
        from sklearn.preprocessing import minmax_scale

        return pd.Series(minmax_scale(spend.to_numpy()))

    # notebook cell 6
    features = spark.read.parquet(orders_path).groupBy("region").agg(F.sum("amount").alias("spend"))
    features = features.withColumn("spend_scaled", scaled("spend"))
    features.write.mode("overwrite").parquet(output_path)


if __name__ == "__main__":
    main()
