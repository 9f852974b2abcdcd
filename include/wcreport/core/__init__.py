"""Plain building blocks every stage uses: model, programme, quarter, working days, settings, io, labels."""
