static int probe(struct device *dev, int id)
{
	int err = check(dev, (id & 0xff) + 1);

	if (err < 0) {
		pr_err("probe: bad id %d (%s)\n", id, "no dev");
		return err;
	}
	for (i = 0; i < ARRAY_SIZE(ops); i++)
		ops[i].init(dev, table[i], "init");
	return 0;
}
